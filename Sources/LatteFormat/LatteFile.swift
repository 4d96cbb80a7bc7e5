import LatteSystem
import Dispatch
import LatteCore

/// A `.latte` file opened for reading: memory-mapped, its trailer and manifest checked
/// (manifest checksum, every offset inside the data region, every size bounded) before any
/// tensor is exposed. Tensor reads decompress only that tensor's chunks and verify its
/// checksum; `decompressedSections` records which sections any read has touched.
public final class LatteFile: Sendable {
    public let path: String
    public let manifest: LatteManifest
    /// The file's size in bytes.
    public var size: Int { file.size }
    // Internal, not private: `decode(_:into:threads:)` (LatteFile+DecodeInto.swift) reads it.
    let file: MappedFile
    /// The checkpoint the file's base references resolve against (FORMAT.md, "Base
    /// references"); nil when none was given.
    public let base: Checkpoint?
    /// References whose base tensor was found to hash to their XXH64 (each is hashed once
    /// per opened file, not at every read). Keyed by the whole reference: two references to
    /// one base tensor with different hashes are checked each.
    let checkedBase = HeapMutex(Set<BaseReference>())
    private let index: [String: Int]
    /// What changes after opening, behind the lock: reads may run on several threads.
    private let state = HeapMutex(MutableState())
    private struct MutableState {
        var touched = Set<Int>()
        var threads = SystemInfo.onlineCores
    }

    /// Threads used to decode chunks (default: every online core). Reads use at most the
    /// online cores and as many as keep scratch memory within
    /// `LatteLayout.decodeScratchBytes`, whatever this says.
    public var threads: Int {
        get { state.withLock { $0.threads } }
        set { state.withLock { $0.threads = newValue } }
    }

    /// Opens and validates `path`; `base` resolves its base references, if it has any.
    /// Errors are `LocatedError`s naming the file.
    public convenience init(path: String, base: Checkpoint? = nil) throws {
        try self.init(file: MappedFile(path: path), base: base)
    }

    /// Validates a mapped file (mapped once, by format detection). Errors are
    /// `LocatedError`s naming the file.
    public init(file: MappedFile, base: Checkpoint? = nil) throws {
        path = file.path
        self.file = file
        self.base = base
        do { manifest = try LatteFile.readManifest(file.bytes) } catch { throw LocatedError(path: path, error) }
        var index = [String: Int](minimumCapacity: manifest.tensors.count)
        for (i, t) in manifest.tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// Header, trailer and manifest checks (FORMAT.md, "Reading a file").
    static func readManifest(_ b: UnsafeRawBufferPointer) throws(LatteFileError) -> LatteManifest {
        _ = try LatteLayout.Header.decode(b)
        let trailer = try LatteLayout.Trailer.decode(b)
        let text = UnsafeRawBufferPointer(rebasing: b[trailer.manifestRange])
        let found = XXH64.hash(text)
        guard found == trailer.manifestChecksum else { throw .manifestChecksumMismatch(expected: trailer.manifestChecksum, found: found) }
        let tree = try parseManifestJSON(text)
        // A compressed manifest: the trailer's JSON is its envelope (FORMAT.md, "Compressed manifest").
        if let inner = try ManifestEnvelope.open(tree.root, file: b, at: trailer.manifestRange.lowerBound) {
            // The tree holds its own copy: the decompressed text is freed once parsed.
            let parsed = inner.text.withUnsafeBytes { text in Result { () throws(LatteFileError) in try parseManifestJSON(text) } }
            let innerTree = try parsed.get()
            guard innerTree.root["manifest"] == nil else { throw .manifestInvalid("a compressed manifest holds another envelope") }
            return try ManifestParser(dataStart: LatteLayout.headerSize, dataEnd: inner.dataEnd).parse(innerTree.root)
        }
        return try ManifestParser(dataStart: LatteLayout.headerSize, dataEnd: trailer.manifestRange.lowerBound).parse(tree.root)
    }

    /// Read in place (JSONTree: about 2x the manifest's size), not as a JSONValue (about 7x).
    private static func parseManifestJSON(_ text: UnsafeRawBufferPointer) throws(LatteFileError) -> JSONTree {
        do { return try JSON.parseTree(text) } catch { throw .manifestNotJSON(error.description) }
    }

    public var tensors: [LatteTensor] { manifest.tensors }

    public func tensor(named name: String) -> LatteTensor? { index[name].map { manifest.tensors[$0] } }

    /// Indices of sections whose chunks some read has decoded so far.
    public var decompressedSections: Set<Int> { state.withLock { $0.touched } }

    /// The section index of each expert group present.
    public var groupSections: [Int: Int] {
        var out: [Int: Int] = [:]
        for (i, s) in manifest.sections.enumerated() where s.kind == .group { if let g = s.group { out[g] = i } }
        return out
    }

    /// One tensor's raw little-endian bytes, checksum verified.
    public func read(_ tensor: LatteTensor) throws -> [UInt8] {
        var out: [UInt8] = []
        // Growing by decoded batches, not by the manifest's size: memory follows real data.
        try stream([tensor]) { _, chunk in out.append(contentsOf: chunk) }
        return out
    }

    /// The bytes of the tensor called `name`.
    public func read(named name: String) throws -> [UInt8] {
        guard let t = tensor(named: name) else { throw LocatedError(path: path, LatteFileError.noSuchTensor(name)) }
        return try read(t)
    }

    /// Every tensor of expert group `group`, in file order, each checksum verified. Only
    /// that group's section is decompressed.
    public func readGroup(_ group: Int) throws -> [(tensor: LatteTensor, bytes: [UInt8])] {
        guard let section = groupSections[group] else { throw LocatedError(path: path, LatteFileError.noSuchGroup(group)) }
        let members = manifest.tensors.filter { $0.section == section }
        var out: [(tensor: LatteTensor, bytes: [UInt8])] = members.map { ($0, []) }
        var k = 0
        try stream(members) { t, chunk in
            while out[k].tensor.name != t.name { k += 1 }
            out[k].bytes.append(contentsOf: chunk)
        }
        return out
    }

    /// An embedded file's bytes, checksum verified.
    public func readBlob(named name: String) throws -> [UInt8] {
        guard let b = manifest.blobs.first(where: { $0.name == name }) else { throw LocatedError(path: path, LatteFileError.noSuchBlob(name)) }
        let asTensor = LatteTensor(name: name, dtype: .u8, shape: [b.nbytes], nbytes: b.nbytes, section: b.section,
                                   checksum: b.checksum, chunks: b.chunks)
        return try read(asTensor)
    }

    /// The tensor's bytes straight from the memory map when it is stored as one raw chunk
    /// (checksum verified), else nil. Valid while this `LatteFile` is alive.
    public func mappedBytes(of tensor: LatteTensor) throws -> UnsafeRawBufferPointer? {
        guard tensor.chunks.count == 1, tensor.chunks[0].codec == .raw else { return nil }
        let c = tensor.chunks[0]
        let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[c.offset ..< c.offset + c.length])
        mark(tensor.section)
        let found = XXH64.hash(bytes)
        guard found == tensor.checksum else {
            throw LocatedError(path: path, LatteFileError.checksumMismatch(tensor: tensor.name, expected: tensor.checksum, found: found))
        }
        return bytes
    }

    func mark(_ section: Int) { state.withLock { _ = $0.touched.insert(section) } }

    /// Decodes `tensors` chunk by chunk, a batch of chunks at a time on every thread, and
    /// hands each chunk's raw bytes to `body` in order. A tensor's checksum is verified after
    /// its last chunk, before `body` sees it; a mismatch throws. The next batch decodes while
    /// `body` consumes the current one. Memory: two batches (a few chunks per thread, at most
    /// `LatteLayout.decodeBatchBytes` each) and one chunk of scratch per thread, whatever the
    /// tensor sizes and `threads`.
    ///
    /// With `sink`, each decoding thread also hands every chunk it decoded to `sink`, with the
    /// chunk's offset in the concatenation of `tensors`' bytes, before any checksum is known:
    /// a caller writing a file discards it when this throws. No call of `sink` is still
    /// running, or starts, once `stream` has returned or thrown.
    ///
    /// `pairTwins`: a replica whose twin is streamed too gets its chunks right after the
    /// twin's, chunk by chunk, so each delta is XORed with the twin's chunk just decoded
    /// instead of decoding it again; `body` then sees the two tensors' chunks interleaved
    /// (each tensor's still in order, its checksum verified before its last chunk is seen).
    ///
    /// A tensor stored in the base is read from the base in place (its hash checked first)
    /// and handed to `sink` and `body` in pieces of at most `chunk_size` bytes.
    public func stream(_ tensors: [LatteTensor], pairTwins: Bool = false, sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)? = nil,
                       body: (LatteTensor, UnsafeRawBufferPointer) throws -> Void) throws {
        guard tensors.contains(where: { $0.base != nil }) else {
            return try streamStored(tensors, pairTwins: pairTwins, sink: sink, body: body)
        }
        try streamWithReferences(tensors, pairTwins: pairTwins, sink: sink, body: body)
    }

    /// `stream` of tensors all stored in this file (deltas may read twins in the base).
    func streamStored(_ tensors: [LatteTensor], pairTwins: Bool, sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)?,
                      body: (LatteTensor, UnsafeRawBufferPointer) throws -> Void) throws {
        let plan = DecodePlan(tensors, requestedThreads: threads, pairTwins: pairTwins)
        let twins = try twinsInBase(tensors)
        let source = DecodeSource(file: file, path: path, tensors: tensors, plan: plan, sink: sink, twinBase: twins)
        // A twin delta reads its twin's chunks: the twin's section (the shared one) counts too.
        for s in Set(tensors.map(\.section) + tensors.compactMap(\.twinSection)) { mark(s) }

        // Two slabs, alternating: batch b + 1 decodes into one while batch b is consumed from
        // the other. Each batch retains its slab, so a slab outlives every worker using it.
        let slabs = [AlignedBuffer(size: plan.slabBytes), plan.batches.count > 1 ? AlignedBuffer(size: plan.slabBytes) : nil]
        func start(_ b: Int) -> DecodeBatch {
            let batch = DecodeBatch(jobs: plan.batches[b], slab: slabs[b % 2]!, source: source)
            batch.start()
            return batch
        }

        // One running hash per tensor being read (two at once while a twin and its replica interleave).
        var hashes: [Int: XXH64] = [:]
        var inflight: DecodeBatch? = start(0)
        // Every exit (a corrupt chunk, a checksum, `body` or `sink` throwing) waits for the
        // batch still decoding: its workers may be writing through `sink` into a file the
        // caller removes as soon as this throws.
        defer { inflight?.wait() }
        for b in plan.batches.indices {
            let batch = inflight!
            batch.wait()
            inflight = b + 1 < plan.batches.count ? start(b + 1) : nil
            defer { batch.releaseStoredPages() }
            // `body` gets pointers into the batch's slab: the batch stays alive meanwhile.
            try withExtendedLifetime(batch) {
            for (i, j) in batch.jobs.enumerated() {
                let t = tensors[j.tensor]
                if j.chunk < 0 {
                    try verify(t, XXH64())
                    try body(t, UnsafeRawBufferPointer(start: nil, count: 0))
                    continue
                }
                switch batch.outcomes[i] {
                case let .failed(e): throw e
                case .pending: preconditionFailure("a decoded batch has a chunk no worker took")
                case .decoded:
                    let bytes = batch.bytes(i)
                    hashes[j.tensor, default: XXH64()].update(bytes)
                    if j.isLast { try verify(t, hashes.removeValue(forKey: j.tensor)!) }
                    try body(t, bytes)
                }
            }
            }
        }
    }

    private func verify(_ t: LatteTensor, _ hash: XXH64) throws {
        let found = hash.finalize()
        guard found == t.checksum else {
            throw LocatedError(path: path, LatteFileError.checksumMismatch(tensor: t.name, expected: t.checksum, found: found))
        }
    }
}
