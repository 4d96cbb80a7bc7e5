#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import LatteCore

/// A `.latte` file opened for reading: memory-mapped, its trailer and manifest checked
/// (manifest checksum, every offset inside the data region, every size bounded) before any
/// tensor is exposed. Tensor reads decompress only that tensor's chunks and verify its
/// checksum; `decompressedSections` records which sections any read has touched.
public final class LatteFile: @unchecked Sendable {
    public let path: String
    public let manifest: LatteManifest
    /// The file's size in bytes.
    public var size: Int { file.size }
    private let file: MappedFile
    private let index: [String: Int]
    private var touched = Set<Int>()
    private var lock = pthread_mutex_t()
    /// Threads used to decode chunks.
    public var threads = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Opens and validates `path`. Errors are `LocatedError`s naming the file.
    public init(path: String) throws {
        self.path = path
        file = try MappedFile(path: path)
        do { manifest = try LatteFile.readManifest(file.bytes) } catch { throw LocatedError(path: path, error) }
        var index = [String: Int](minimumCapacity: manifest.tensors.count)
        for (i, t) in manifest.tensors.enumerated() { index[t.name] = i }
        self.index = index
        pthread_mutex_init(&lock, nil)
    }

    deinit { pthread_mutex_destroy(&lock) }

    /// True when the file at `path` starts with the `.latte` magic number.
    public static func isLatte(path: String) -> Bool {
        guard let (fd, _) = try? InputFile.open(path) else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: LatteLayout.magic.count)
        let n = head.withUnsafeMutableBytes { sysRead(fd, $0.baseAddress, $0.count) }
        return n == head.count && head == LatteLayout.magic
    }

    /// Header, trailer and manifest checks (FORMAT.md, "Reading a file").
    static func readManifest(_ b: UnsafeRawBufferPointer) throws(LatteFileError) -> LatteManifest {
        guard b.count >= LatteLayout.magic.count, Array(b[0 ..< LatteLayout.magic.count]) == LatteLayout.magic else {
            throw b.count < LatteLayout.headerSize + LatteLayout.trailerSize ? .tooSmall(size: b.count) : .notLatte
        }
        guard b.count >= LatteLayout.headerSize + LatteLayout.trailerSize else { throw .tooSmall(size: b.count) }
        let major = b.loadUnaligned(fromByteOffset: 8, as: UInt16.self).littleEndian
        let minor = b.loadUnaligned(fromByteOffset: 10, as: UInt16.self).littleEndian
        guard major == LatteLayout.majorVersion else { throw .unsupportedVersion(major: major, minor: minor) }
        let t = b.count - LatteLayout.trailerSize
        guard Array(b[t + 24 ..< t + 32]) == LatteLayout.endMagic else { throw .badTrailer("no end marker") }
        let offset = b.loadUnaligned(fromByteOffset: t, as: UInt64.self).littleEndian
        let length = b.loadUnaligned(fromByteOffset: t + 8, as: UInt64.self).littleEndian
        let sum = b.loadUnaligned(fromByteOffset: t + 16, as: UInt64.self).littleEndian
        guard length <= UInt64(LatteLayout.maxManifestSize) else { throw .manifestTooLarge(Int(clamping: length)) }
        // The manifest sits right before the trailer, after the header.
        guard offset >= UInt64(LatteLayout.headerSize), offset <= UInt64(t), length == UInt64(t) - offset else {
            throw .badTrailer("manifest at \(offset) with \(length) bytes does not end at the trailer (byte \(t))")
        }
        let text = UnsafeRawBufferPointer(rebasing: b[Int(offset) ..< t])
        let found = XXH64.hash(text)
        guard found == sum else { throw .manifestChecksumMismatch(expected: sum, found: found) }
        let root: JSONValue
        do { root = try JSON.parse(text) } catch { throw .manifestNotJSON(error.description) }
        return try ManifestParser(dataStart: LatteLayout.headerSize, dataEnd: Int(offset)).parse(root)
    }

    public var tensors: [LatteTensor] { manifest.tensors }

    public func tensor(named name: String) -> LatteTensor? { index[name].map { manifest.tensors[$0] } }

    /// Indices of sections whose chunks some read has decoded so far.
    public var decompressedSections: Set<Int> {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return touched
    }

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

    private func mark(_ section: Int) {
        pthread_mutex_lock(&lock)
        touched.insert(section)
        pthread_mutex_unlock(&lock)
    }

    /// Decodes `tensors` chunk by chunk, a batch of chunks at a time on every thread, and
    /// hands each chunk's raw bytes to `body` in order. A tensor's checksum is verified after
    /// its last chunk, before `body` sees it; a mismatch throws. The next batch decodes while
    /// `body` consumes the current one. Memory: two batches (a few chunks per thread),
    /// whatever the tensor sizes.
    ///
    /// With `sink`, each decoding thread also hands every chunk it decoded to `sink`, with the
    /// chunk's offset in the concatenation of `tensors`' bytes, before any checksum is known:
    /// a caller writing a file discards it when this throws.
    public func stream(_ tensors: [LatteTensor], sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)? = nil,
                       body: (LatteTensor, UnsafeRawBufferPointer) throws -> Void) throws {
        // chunk -1: an empty tensor, nothing to decode. `at`: the chunk's offset in the
        // concatenation of the tensors' bytes.
        struct Job { var tensor: Int; var chunk: Int; var isLast: Bool; var at: Int }
        let batchLimit = max(1, threads) * 4
        var batches: [[Job]] = [[]]
        var at = 0
        for (ti, t) in tensors.enumerated() {
            if t.chunks.isEmpty { batches[batches.count - 1].append(Job(tensor: ti, chunk: -1, isLast: true, at: at)) }
            for (k, c) in t.chunks.enumerated() {
                if batches[batches.count - 1].count >= batchLimit { batches.append([]) }
                batches[batches.count - 1].append(Job(tensor: ti, chunk: k, isLast: k == t.chunks.count - 1, at: at))
                at += c.raw
            }
        }
        let file = self.file
        let path = self.path
        let threads = self.threads
        let sections = Set(tensors.map(\.section))
        for s in sections { mark(s) }

        // Buffers are reused across batches (two slabs in flight, one scratch per thread):
        // fresh multi-MiB allocations per chunk would fault in every page anew.
        let maxRaw = tensors.lazy.flatMap(\.chunks).map(\.raw).max() ?? 0
        let scratch = BufferPool(count: max(1, threads), size: maxRaw)
        let slabs = [BufferPool(count: 1, size: 0), BufferPool(count: 1, size: 0)]

        /// Starts decoding a batch on the global queue; the group signals when it is done.
        func start(_ work: [Job], slab: BufferPool) -> (DispatchGroup, DecodeSlots) {
            var offsets: [Int] = []
            var total = 0
            for j in work {
                offsets.append(total)
                // 64-byte aligned slices, as the format aligns raw chunks.
                if j.chunk >= 0 { total += (tensors[j.tensor].chunks[j.chunk].raw + 63) / 64 * 64 }
            }
            // Workers write disjoint slices of the slab: safe to share.
            nonisolated(unsafe) let base = slab.reserve(total)
            // One syscall maps the batch's stored bytes instead of a page fault per 4 KiB.
            let stored = work.filter { $0.chunk >= 0 }.map { tensors[$0.tensor].chunks[$0.chunk] }
            if let lo = stored.map(\.offset).min(), let hi = stored.map({ $0.offset + $0.length }).max() {
                file.advise(lo, hi - lo, MADV_POPULATE_READ)
            }
            let starts = offsets
            let results = DecodeSlots(work.count)
            let group = DispatchGroup()
            DispatchQueue.global().async(group: group) {
                let n = max(1, min(threads, work.count))
                DispatchQueue.concurrentPerform(iterations: n) { t in
                    var i = t
                    while i < work.count {
                        defer { i += n }
                        guard work[i].chunk >= 0 else { continue }
                        let tensor = tensors[work[i].tensor]
                        let c = tensor.chunks[work[i].chunk]
                        let buffer = UnsafeMutableRawBufferPointer(rebasing: base[starts[i] ..< starts[i] + c.raw])
                        do {
                            try ChunkCoder.decode(c, stored: UnsafeRawBufferPointer(rebasing: file.bytes[c.offset ..< c.offset + c.length]),
                                                  into: buffer, scratch: scratch.buffer(t))
                        } catch {
                            results.set(i, .failure(LocatedError(path: path, LatteFileError.chunkCorrupt(tensor: tensor.name, chunk: work[i].chunk, reason: String(describing: error)))))
                            continue
                        }
                        do {
                            try sink?(work[i].at, UnsafeRawBufferPointer(buffer))
                            results.set(i, .success(buffer))
                        } catch {
                            results.set(i, .failure(error))
                        }
                    }
                }
            }
            return (group, results)
        }

        var hash = XXH64()
        var next: (DispatchGroup, DecodeSlots)? = start(batches[0], slab: slabs[0])
        // Whatever happens, the batch in flight finishes before its buffers go away.
        defer { if let (g, _) = next { g.wait() } }
        for b in batches.indices {
            let (group, results) = next!
            group.wait()
            next = b + 1 < batches.count ? start(batches[b + 1], slab: slabs[(b + 1) % 2]) : nil
            // The batch's stored pages leave the resident set once consumed: memory stays at
            // two batches even when a whole multi-GB file is exported.
            let done = batches[b].filter { $0.chunk >= 0 }.map { tensors[$0.tensor].chunks[$0.chunk] }
            defer {
                if let lo = done.map(\.offset).min(), let hi = done.map({ $0.offset + $0.length }).max() {
                    file.advise(lo, hi - lo, MADV_DONTNEED)
                }
            }
            for (i, j) in batches[b].enumerated() {
                let t = tensors[j.tensor]
                if j.chunk < 0 {
                    try verify(t, XXH64())
                    try body(t, UnsafeRawBufferPointer(start: nil, count: 0))
                    continue
                }
                switch results.values[i]! {
                case let .failure(e): throw e
                case let .success(buf):
                    hash.update(UnsafeRawBufferPointer(buf))
                    if j.isLast { try verify(t, hash) }
                    try body(t, UnsafeRawBufferPointer(buf))
                }
                if j.isLast { hash = XXH64() }
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

/// Per-chunk decode results written by workers, read after the barrier.
private final class DecodeSlots: @unchecked Sendable {
    var values: [Result<UnsafeMutableRawBufferPointer, any Error>?]
    init(_ n: Int) { values = .init(repeating: nil, count: n) }
    func set(_ i: Int, _ v: Result<UnsafeMutableRawBufferPointer, any Error>) { values[i] = v }
}

/// Reusable 64-byte aligned buffers, freed with the pool.
private final class BufferPool: @unchecked Sendable {
    private var buffers: [UnsafeMutableRawBufferPointer]

    init(count: Int, size: Int) {
        buffers = (0 ..< count).map { _ in UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64) }
    }

    deinit { for b in buffers { b.deallocate() } }

    func buffer(_ i: Int) -> UnsafeMutableRawBufferPointer { buffers[i] }

    /// Buffer 0, grown to at least `size` bytes (its old contents are dropped).
    func reserve(_ size: Int) -> UnsafeMutableRawBufferPointer {
        if buffers[0].count < size {
            buffers[0].deallocate()
            buffers[0] = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 64)
        }
        return buffers[0]
    }
}

/// `read(2)`; named apart so `LatteFile.read` does not shadow it.
private func sysRead(_ fd: Int32, _ p: UnsafeMutableRawPointer?, _ n: Int) -> Int { read(fd, p, n) }
