import LatteSystem
import Dispatch
import LatteCore

/// How `LatteWriter` converts.
public struct LatteWriteOptions: Sendable {
    public var codec = CodecOptions()
    /// Worker threads compressing chunks (default: every online core).
    public var threads: Int = SystemInfo.onlineCores
    /// Raw bytes per chunk (a multiple of 8, so chunks hold whole elements of every dtype).
    public var chunkSize = LatteLayout.defaultChunkSize
    /// A config file to record instead of the checkpoint's own `config.json`.
    public var configPath: String?
    /// A config already read, recorded as it is (`convert` reads the file once, for its plan
    /// and its record); when nil, `configPath` or else the checkpoint's `config.json` is read.
    public var config: ConfigFile?
    /// Files embedded verbatim under a name (e.g. `inputs.safetensors`), one section each.
    public var embeddedFiles: [(name: String, path: String)] = []
    /// `fsync` before the rename, so a power loss right after cannot leave an empty file
    /// behind. Off by default, as for `zstd`, `cp` and safetensors: the rename alone already
    /// guarantees no process ever sees a partial file at the output path.
    public var sync = false
    /// Store the manifest as a zstd frame located by a small envelope at the trailer
    /// (FORMAT.md, "Compressed manifest"), when that is smaller; off: plain JSON, readable
    /// by readers older than format 1.1.
    public var compressManifest = true
    /// Code replica tensors `gen.layers.{l}.X` chunk by chunk as their XOR with the twin
    /// `model.layers.{l}.X` (same dtype and shape) when that is smaller (FORMAT.md, "Twin deltas").
    public var twinDeltas = true
    /// A base checkpoint: every tensor whose dtype, shape and bytes equal one of the base's
    /// is stored as a reference to it, not as bytes (FORMAT.md, "Base references").
    public var base: Checkpoint?
    /// Called after each batch with raw bytes done and total.
    public var progress: ProgressHandler?

    public init() {}

    /// The config file recorded for `checkpoint`, if any.
    func configPath(for checkpoint: Checkpoint) -> String? { config?.path ?? configPath ?? checkpoint.configPath }
}

/// What a conversion wrote.
public struct LatteWriteSummary: Sendable {
    public var tensors: Int
    public var rawBytes: Int
    public var fileBytes: Int
    /// Tensors stored as references to the base, and their raw bytes.
    public var referencedTensors = 0
    public var referencedBytes = 0
}

/// Why a conversion stopped (reader errors pass through as they are).
public enum LatteWriteError: Error, Equatable, CustomStringConvertible {
    case notInPlan(tensor: String)
    case badOption(String)
    case duplicateEmbeddedName(String)
    case unsizedDType(tensor: String)

    public var description: String {
        switch self {
        case let .notInPlan(t): "tensor '\(t)': the section plan does not place it"
        case let .badOption(why): why
        case let .duplicateEmbeddedName(n): "embedded file name '\(n)' is used twice"
        case let .unsizedDType(t): "tensor '\(t)': its dtype and shape do not make whole bytes"
        }
    }
}

/// Writes `.latte` files: one streaming pass over a checkpoint, chunks compressed on every
/// core a batch at a time, so memory stays at a few chunks per thread whatever the size.
public enum LatteWriter {
    /// Converts `checkpoint` to `path`. With a plan, tensors are laid out in sections
    /// (shared, one per expert group, extra); without, in one `shared` section. The file
    /// appears at `path` only when complete; on any error nothing is left behind.
    @discardableResult
    public static func write(_ checkpoint: Checkpoint, plan: SectionPlan?, to path: String,
                             options: LatteWriteOptions = LatteWriteOptions()) throws -> LatteWriteSummary {
        guard options.threads >= 1 else { throw LatteWriteError.badOption("threads must be at least 1") }
        guard options.chunkSize >= 8, options.chunkSize % 8 == 0, options.chunkSize <= LatteLayout.maxChunkSize else {
            throw LatteWriteError.badOption("chunk size must be a multiple of 8 up to \(LatteLayout.maxChunkSize)")
        }
        let layout = try Layout(checkpoint: checkpoint, plan: plan, embedded: options.embeddedFiles)
        try ReadBackRules.check(checkpoint, layout: layout, chunkSize: options.chunkSize)
        try OutputTarget.check(path, notOverwriting: checkpoint.files.map(\.path) + options.embeddedFiles.map(\.path)
                               + [options.configPath(for: checkpoint)].compactMap { $0 } + (options.base?.files.map(\.path) ?? []))
        let references = try options.base.map { try BaseMatcher.match(checkpoint, base: $0, threads: options.threads) } ?? [:]
        let output = try AtomicOutput(path: path)
        do {
            let job = Job(checkpoint: checkpoint, plan: plan, layout: layout, options: options, output: output)
            job.references = references
            let summary = try job.run()
            try output.commit(sync: options.sync)
            return summary
        } catch {
            output.discard()
            throw error
        }
    }
}

/// What `LatteFile` would refuse to read, refused before anything is written: the rules are
/// the readers' own (`TensorRules`, `LatteLayout`'s limits, `JSON.maxDepth`), so whatever
/// `convert` writes, latte reads back.
enum ReadBackRules {
    /// Names, shapes, chunk counts and metadata, from the checkpoint and the layout alone.
    static func check(_ c: Checkpoint, layout: Layout, chunkSize: Int) throws {
        let firstFile = c.files.first?.path ?? ""
        guard c.tensors.count <= LatteLayout.maxEntries else {
            throw LocatedError(path: firstFile, UnreadableOutputError.tooMany(what: "tensors", count: c.tensors.count, limit: LatteLayout.maxEntries))
        }
        var stored = Set<String>(minimumCapacity: c.tensors.count)
        for item in layout.items {
            guard case let .tensor(t) = item.source else { continue }
            let e = c.tensors[t]
            let name = item.placement?.canonicalName ?? e.name
            func refuse(_ why: String) -> LocatedError { LocatedError(path: c.files[e.file].path, tensor: name, UnreadableOutputError.tensor(why)) }
            if let why = TensorRules.nameProblem(name) ?? TensorRules.shapeProblem(e.shape, dtype: e.dtype) { throw refuse(why) }
            guard stored.insert(name).inserted else { throw refuse("a second tensor would be stored under this name") }
            let chunks = chunkCount(e.byteCount, chunkSize)
            guard chunks <= LatteLayout.maxEntries else {
                throw refuse("\(chunks) chunks of \(chunkSize) bytes, more than the \(LatteLayout.maxEntries) per tensor readers accept (use a larger --chunk-size)")
            }
        }
        for k in c.metadata.keys.sorted() {
            if let why = TensorRules.metadataProblem(key: k, value: c.metadata[k]!) { throw LocatedError(path: firstFile, UnreadableOutputError.metadata(why)) }
        }
    }

    /// An embedded file's chunk count, checked once it is mapped (its size is known then).
    static func checkEmbedded(_ file: MappedFile, chunkSize: Int) throws {
        let chunks = chunkCount(file.size, chunkSize)
        guard chunks <= LatteLayout.maxEntries else {
            throw LocatedError(path: file.path, UnreadableOutputError.tooMany(what: "chunks of \(chunkSize) bytes", count: chunks, limit: LatteLayout.maxEntries))
        }
    }

    /// The provenance document (with the recorded config) nests inside the manifest's root
    /// object: one level deeper than itself, which must stay within what `JSON.parse` takes.
    static func checkDepth(_ provenance: JSONValue, configPath: String?) throws {
        let depth = 1 + nestingDepth(provenance)
        guard depth <= JSON.maxDepth else {
            throw LocatedError(path: configPath ?? "", UnreadableOutputError.tooDeep(depth: depth, limit: JSON.maxDepth))
        }
    }

    /// The manifest's size, once serialized.
    static func checkManifest(size: Int, path: String) throws {
        guard size <= LatteLayout.maxManifestSize else {
            throw LocatedError(path: path, UnreadableOutputError.tooLarge(what: "the manifest", size: size, limit: LatteLayout.maxManifestSize))
        }
    }

    /// ceil(bytes / chunkSize) without overflow; zero bytes take no chunk.
    static func chunkCount(_ bytes: Int, _ chunkSize: Int) -> Int { bytes / chunkSize + (bytes % chunkSize == 0 ? 0 : 1) }

    /// Containers nested in `v` (a scalar: 0, `[]`: 1, `[[]]`: 2). Bounded by the parser's own
    /// depth limit, since every value here was parsed or built by us.
    static func nestingDepth(_ v: JSONValue) -> Int {
        switch v {
        case let .array(a): 1 + (a.map(nestingDepth).max() ?? 0)
        case let .object(m): 1 + (m.map { nestingDepth($0.1) }.max() ?? 0)
        default: 0
        }
    }
}

/// One conversion in progress.
private final class Job {
    let c: Checkpoint
    let plan: SectionPlan?
    let layout: Layout
    let options: LatteWriteOptions
    let out: AtomicOutput

    var sectionEntries: [SectionEntry] = []
    var tensors: [LatteTensor?]
    var blobs: [LatteBlob?]
    var usedFeatures = Set<String>(["xxh64"])
    var done = 0
    var total = 0
    /// Checkpoint tensors stored as references to the base, by index.
    var references: [Int: BaseReference] = [:]
    /// The header's and manifest's minor version: 1.2 only for a file with references, so
    /// every other file stays byte for byte what a 1.1 writer made.
    var minor: UInt16 { references.isEmpty ? LatteLayout.minorVersion : BaseFormat.minorVersion }

    init(checkpoint: Checkpoint, plan: SectionPlan?, layout: Layout, options: LatteWriteOptions, output: AtomicOutput) {
        c = checkpoint
        self.plan = plan
        self.layout = layout
        self.options = options
        out = output
        tensors = [LatteTensor?](repeating: nil, count: checkpoint.tensors.count)
        blobs = [LatteBlob?](repeating: nil, count: options.embeddedFiles.count)
    }

    /// A chunk waiting in the batch: where its raw bytes are and whose they are.
    ///
    /// Unchecked Sendable (`bytes` is a pointer): the encoding workers only read the bytes,
    /// and they stay valid until the batch is written, in the checkpoint's map (the job
    /// holds the checkpoint) or in `holder`.
    struct Pending: @unchecked Sendable {
        var item: Int
        var bytes: UnsafeRawBufferPointer
        var dtype: DType
        var isLast: Bool
        /// An embedded file's chunk: raw or zstd only (FORMAT.md, "Embedded files").
        var isBlob: Bool
        /// The same bytes of the tensor's twin, when it has one (twin deltas).
        var twin: UnsafeRawBufferPointer? = nil
        var twinHolder: TensorBytes? = nil
        /// Keeps a chunk copied out of a strided view alive until it is written.
        var holder: TensorBytes? = nil
    }

    /// An item being written: its bytes kept alive and its checksum so far.
    final class Open {
        var holder: Any
        /// The twin's name, when the tensor's chunks may be coded against it.
        var twin: String?
        var hash = XXH64()
        var chunks: [ChunkEntry] = []
        init(holder: Any) { self.holder = holder }
    }

    var open: [Int: Open] = [:]

    /// Source files' sizes and SHA-256s, one slot per checkpoint file then embedded file.
    typealias SourceHashes = Slots<Result<(size: Int, hex: String), Error>>

    func run() throws -> LatteWriteSummary {
        // Source hashes run beside the compression: a separate pass at the end would add its
        // whole duration to the wall time.
        // Bytes in memory (the C library's `latte_write`) have no file to hash: only mapped
        // files are recorded as sources.
        let paths = c.files.filter(\.isFileMapped).map(\.path) + options.embeddedFiles.map(\.path)
        let hashes = SourceHashes(paths.count)
        let hashing = DispatchGroup()
        DispatchQueue.global().async(group: hashing) {
            for (i, p) in paths.enumerated() { hashes[i] = Result { try Provenance.sha256(path: p) } }
        }
        defer { hashing.wait() }
        // On any error, the batch still encoding must finish before its source bytes go.
        defer { inflight?.group.wait() }
        let config = try (options.config ?? options.configPath(for: c).map { try ConfigFile(path: $0) }).map(Provenance.config)
        let blobFiles = try options.embeddedFiles.map { try MappedFile(path: $0.path) }
        for f in blobFiles { try ReadBackRules.checkEmbedded(f, chunkSize: options.chunkSize) }
        if let config { try ReadBackRules.checkDepth(.object([("config", config)]), configPath: options.configPath(for: c)) }

        total = c.tensors.reduce(0) { $0 + $1.byteCount } + blobFiles.reduce(0) { $0 + $1.size }
        try out.write(LatteLayout.Header(minor: minor).encode())
        try writeItems(blobFiles: blobFiles)
        hashing.wait()
        let baseFiles = references.isEmpty ? nil : try options.base.map(BaseMatcher.files)
        try writeManifest(provenance: try provenance(config: config, hashes: hashes), base: baseFiles)
        return LatteWriteSummary(tensors: c.tensors.count, rawBytes: total, fileBytes: out.offset, referencedTensors: references.count,
                                 referencedBytes: references.keys.reduce(0) { $0 + c.tensors[$1].byteCount })
    }

    /// Every item's chunks, section after section, a batch at a time.
    func writeItems(blobFiles: [MappedFile]) throws {
        let batchLimit = options.threads * 4 * options.chunkSize
        var batch: [Pending] = []
        var batchBytes = 0
        var currentSection = -1
        for (index, item) in layout.items.enumerated() {
            if item.section != currentSection {
                // Sections follow one another; a section ends where the next begins.
                try flush(&batch)
                try drain()
                batchBytes = 0
                closeSection()
                currentSection = item.section
                let s = layout.sections[item.section]
                sectionEntries.append(SectionEntry(name: s.name, kind: s.kind, group: s.group, offset: out.offset, length: 0))
            }
            if case let .tensor(t) = item.source, let ref = references[t] {
                recordReference(t, ref, item)
                continue
            }
            let source = openItem(index, item, blobFiles: blobFiles)
            if source.count == 0 {
                let (bytes, holder) = try source.chunk(0 ..< 0)
                batch.append(Pending(item: index, bytes: bytes, dtype: source.dtype, isLast: true, isBlob: source.isBlob, holder: holder))
                continue
            }
            var at = 0
            while at < source.count {
                let n = min(options.chunkSize, source.count - at)
                let (bytes, holder) = try source.chunk(at ..< at + n)
                var pending = Pending(item: index, bytes: bytes, dtype: source.dtype, isLast: at + n == source.count, isBlob: source.isBlob, holder: holder)
                if let twin = source.twinChunk { (pending.twin, pending.twinHolder) = try twin(at ..< at + n) }
                batch.append(pending)
                at += n
                batchBytes += n
                if batchBytes >= batchLimit {
                    try flush(&batch)
                    batchBytes = 0
                }
            }
        }
        try flush(&batch)
        try drain()
        closeSection()
    }

    /// A tensor stored in the base: its entry, without chunks.
    func recordReference(_ t: Int, _ ref: BaseReference, _ item: Layout.Item) {
        let e = c.tensors[t]
        tensors[t] = LatteTensor(name: item.placement?.canonicalName ?? e.name, dtype: e.dtype, shape: e.shape, nbytes: e.byteCount,
                                 section: item.section, role: item.placement?.role.rawValue, group: item.placement?.group,
                                 layer: item.placement?.layer, checksum: ref.checksum, chunks: [], base: ref)
        usedFeatures.insert(BaseFormat.feature)
        done += e.byteCount
    }

    /// An item's bytes, as chunks are asked of it: their count, dtype, and a chunk's bytes with
    /// what keeps them alive.
    struct ItemSource {
        var count: Int
        var dtype: DType
        var isBlob = false
        var chunk: (Range<Int>) throws -> (UnsafeRawBufferPointer, TensorBytes?)
        /// The twin's bytes of the same range, for a replica tensor with a twin.
        var twinChunk: ((Range<Int>) throws -> (UnsafeRawBufferPointer, TensorBytes?))? = nil
    }

    /// Opens item `index` for writing (its `Open` record) and returns its bytes. A tensor's
    /// are asked of the checkpoint one chunk at a time, so a strided or expanded view is
    /// copied a chunk at a time (never whole); a contiguous one stays a slice of the map.
    func openItem(_ index: Int, _ item: Layout.Item, blobFiles: [MappedFile]) -> ItemSource {
        switch item.source {
        case let .tensor(t):
            let entry = c.tensors[t]
            open[index] = Open(holder: c.files[entry.file])
            var source = ItemSource(count: entry.byteCount, dtype: entry.dtype) { [c] r in try Job.bytes(c, entry, r) }
            if let (w, name) = twin(of: t, item) {
                let twin = c.tensors[w]
                open[index]!.twin = name
                source.twinChunk = { [c] r in try Job.bytes(c, twin, r) }
            }
            return source
        case let .blob(b):
            open[index] = Open(holder: blobFiles[b])
            let bytes = blobFiles[b].bytes
            return ItemSource(count: bytes.count, dtype: .u8, isBlob: true) { r in (UnsafeRawBufferPointer(rebasing: bytes[r]), nil) }
        }
    }

    /// Bytes `r` of a checkpoint tensor and what keeps them alive: a contiguous tensor stays a
    /// slice of the map, a strided or expanded view is copied a chunk at a time.
    static func bytes(_ c: Checkpoint, _ entry: TensorEntry, _ r: Range<Int>) throws -> (UnsafeRawBufferPointer, TensorBytes?) {
        let tb: TensorBytes
        do { tb = try c.bytes(of: entry, range: r) } catch { throw LocatedError(path: c.files[entry.file].path, error) }
        // The pointer stays valid while `tb` (held by the pending chunk) is alive.
        return (tb.withUnsafeBytes { $0 }, tb)
    }

    /// Stored names (a mapping may rename) to checkpoint tensors, built on first use.
    lazy var storedNames: [String: Int] = {
        var out = [String: Int](minimumCapacity: c.tensors.count)
        for item in layout.items { if case let .tensor(t) = item.source { out[item.placement?.canonicalName ?? c.tensors[t].name] = t } }
        return out
    }()

    /// The twin of tensor `t` and its stored name: a replica layer tensor's `model.layers`
    /// counterpart, stored too, with the same dtype and shape, when twin deltas are on.
    func twin(of t: Int, _ item: Layout.Item) -> (Int, String)? {
        guard options.twinDeltas, let name = TwinDelta.twinName(of: item.placement?.canonicalName ?? c.tensors[t].name),
              let w = storedNames[name], w != t else { return nil }
        let (a, b) = (c.tensors[t], c.tensors[w])
        return a.dtype == b.dtype && a.shape == b.shape && a.byteCount > 0 ? (w, name) : nil
    }

    /// The manifest's `provenance`: the tool, the sources and their hashes, the config, the
    /// writer's settings, the embedded files and the plan.
    func provenance(config: JSONValue?, hashes: SourceHashes) throws -> [(String, JSONValue)] {
        var files: [JSONValue] = []
        for (i, f) in c.files.filter(\.isFileMapped).enumerated() {
            let h = try hashes[i]!.get()
            files.append(.object([("path", .string(f.path)), ("size", .int(Int64(h.size))), ("sha256", .string(h.hex))]))
        }
        var embedded: [JSONValue] = []
        for (k, e) in options.embeddedFiles.enumerated() {
            let h = try hashes[c.files.lazy.filter(\.isFileMapped).count + k]!.get()
            embedded.append(.object([("name", .string(e.name)), ("path", .string(e.path)), ("size", .int(Int64(h.size))), ("sha256", .string(h.hex))]))
        }
        var provenance: [(String, JSONValue)] = [
            ("tool", .string("latte")),
            ("tool_version", .string(latteVersion)),
            ("source_format", .string(c.format.rawValue)),
            ("source_files", .array(files)),
            ("source_metadata", .object(c.metadata.keys.sorted().map { ($0, .string(c.metadata[$0]!)) })),
            ("config", config ?? .null),
            ("writer", .object([
                ("level", .int(Int64(options.codec.level))), ("chunk_size", .int(Int64(options.chunkSize))),
                ("threads", .int(Int64(options.threads))),
            ])),
        ]
        if !embedded.isEmpty { provenance.append(("embedded_files", .array(embedded))) }
        if let plan { provenance.append(("plan", plan.planJSON)) }
        return provenance
    }

    /// The manifest, then the trailer that locates it.
    func writeManifest(provenance: [(String, JSONValue)], base: [BaseFile]?) throws {
        let known: [String] = ["xxh64", "zstd", "planes", "rans32", "twin-xor", BaseFormat.feature]
        let manifest = LatteManifest(
            minor: Int(minor), requiredFeatures: known.filter { usedFeatures.contains($0) }, optionalFeatures: ["provenance"] + (blobs.isEmpty ? [] : ["blobs"]),
            chunkSize: options.chunkSize,
            metadata: c.metadata.keys.sorted().map { ($0, c.metadata[$0]!) },
            provenance: .object(provenance), sections: sectionEntries,
            tensors: tensors.map { $0! }, blobs: blobs.map { $0! }, base: base)
        try ReadBackRules.checkDepth(.object(provenance), configPath: options.configPath(for: c))
        let text = manifest.serializedText()
        try ReadBackRules.checkManifest(size: text.count, path: out.finalPath)
        var stored = text
        if options.compressManifest, let packed = ManifestEnvelope.wrap(text, at: out.offset, level: options.codec.level) {
            try out.write(packed.frame)
            stored = packed.envelope
        }
        let manifestOffset = out.offset
        try out.write(stored)
        let trailer = LatteLayout.Trailer(manifestOffset: UInt64(manifestOffset), manifestLength: UInt64(stored.count),
                                          manifestChecksum: XXH64.hash(stored))
        try out.write(trailer.encode())
    }

    func closeSection() {
        guard var last = sectionEntries.popLast() else { return }
        last.length = out.offset - last.offset
        sectionEntries.append(last)
    }

    /// A batch being encoded on the global queue while the previous one is written.
    var inflight: (work: [Pending], results: Slots<EncodedChunk>, group: DispatchGroup)?

    /// Starts encoding the batch on every thread, then writes the previous batch while this
    /// one encodes: the serial part (checksums, writes) overlaps the parallel part.
    func flush(_ batch: inout [Pending]) throws {
        guard !batch.isEmpty else { return }
        let work = batch
        batch.removeAll(keepingCapacity: true)
        let results = Slots<EncodedChunk>(work.count)
        let threads = min(options.threads, work.count)
        let codec = options.codec
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            // Static striding: chunks are nearly equal in size, so no shared counter is needed.
            DispatchQueue.concurrentPerform(iterations: threads) { t in
                var i = t
                while i < work.count {
                    if work[i].bytes.count > 0 {
                        let p = work[i]
                        results[i] = p.isBlob ? ChunkCoder.encodeBytes(p.bytes, options: codec)
                            : p.twin.map { TwinDelta.encode(p.bytes, twin: $0, dtype: p.dtype, options: codec) }
                            ?? ChunkCoder.encode(p.bytes, dtype: p.dtype, options: codec)
                    }
                    i += threads
                }
            }
        }
        do { try drain() } catch { group.wait(); throw error }
        inflight = (work, results, group)
    }

    /// Waits for the batch in flight and writes it in order.
    func drain() throws {
        guard let (work, results, group) = inflight else { return }
        inflight = nil
        group.wait()
        for (i, p) in work.enumerated() {
            let o = open[p.item]!
            if let r = results[i] {
                var entry = r.entry
                if entry.codec == .raw {
                    try out.pad(to: LatteLayout.alignment)
                    entry.offset = out.offset
                    try out.write(p.bytes)
                } else {
                    entry.offset = out.offset
                    try out.write(r.bytes)
                    usedFeatures.insert(entry.codec == .zstd ? "zstd" : "planes")
                    for pl in entry.planes where pl.codec != .raw { usedFeatures.insert(pl.codec.rawValue) }
                    if entry.xorTwin { usedFeatures.insert("twin-xor") }
                }
                o.chunks.append(entry)
                o.hash.update(p.bytes)
                done += p.bytes.count
            }
            if p.isLast { finish(p.item, o) }
        }
        options.progress?(done, total)
    }

    /// Records a finished item and drops its source pages from our resident set (they stay in
    /// the page cache): the peak RSS of a multi-GB conversion stays at the batch size.
    func finish(_ index: Int, _ o: Open) {
        let item = layout.items[index]
        switch item.source {
        case let .tensor(t):
            let e = c.tensors[t]
            // A mapping file may rename a tensor onto the spec's name: the file stores that name.
            tensors[t] = LatteTensor(name: item.placement?.canonicalName ?? e.name, dtype: e.dtype, shape: e.shape, nbytes: e.byteCount, section: item.section,
                                     role: item.placement?.role.rawValue, group: item.placement?.group, layer: item.placement?.layer,
                                     checksum: o.hash.finalize(), chunks: o.chunks,
                                     twin: o.chunks.contains(where: \.xorTwin) ? o.twin : nil)
            c.releasePages(of: e)
        case let .blob(b):
            let f = o.holder as! MappedFile
            blobs[b] = LatteBlob(name: options.embeddedFiles[b].name, section: item.section, nbytes: f.size,
                                 checksum: o.hash.finalize(), chunks: o.chunks)
            f.advise(0, f.size, .drop)
        }
        open[index] = nil
    }
}
