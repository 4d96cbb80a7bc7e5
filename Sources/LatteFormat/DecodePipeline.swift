import LatteSystem
import Dispatch
import LatteCore

// The machinery of `LatteFile.stream`: batches of chunks decoded on every thread while the
// previous batch is consumed. Ownership is the safety argument: a batch owns (retains) every
// buffer its workers write into, and the closure running the workers retains the batch, so
// no exit path of the consumer can free memory a worker still uses; the consumer waits for
// the batch in flight on every exit as well, because workers may also be writing through a
// caller's `sink` into a file the caller discards once `stream` throws.

/// A heap-allocated, 64-byte aligned buffer, freed when its last owner goes.
///
/// Unchecked Sendable: the pointer never changes; who writes which bytes, and when, is the
/// ownership rule above (one worker per slice, read after the batch's wait).
final class AlignedBuffer: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer

    init(size: Int) { bytes = .allocate(byteCount: max(size, 1), alignment: 64) }

    deinit { bytes.deallocate() }
}

/// One chunk to decode (`chunk` -1: an empty tensor, nothing to decode).
struct DecodeJob {
    var tensor: Int
    var chunk: Int
    var isLast: Bool
    /// The chunk's offset in the concatenation of the streamed tensors' bytes.
    var at: Int
    /// Where its raw bytes go in the batch's slab.
    var slabOffset: Int
    /// For a replica's chunk paired with its twin's (`DecodePlan`, `pairTwins`): where the
    /// twin's chunk, the job just before this one, is decoded in the same slab.
    var twinSlabOffset: Int? = nil
}

/// How a `stream` call's chunks are cut into batches, and the buffers that takes.
struct DecodePlan {
    var batches: [[DecodeJob]]
    /// The largest batch's slab (raw sizes rounded up to 64 bytes).
    var slabBytes: Int
    /// The largest chunk's raw size (each thread's scratch).
    var maxRaw: Int
    var threads: Int
    /// Whether some chunk is a twin delta whose twin's chunk is decoded on its own (each thread
    /// then holds a second scratch buffer).
    var hasDeltas: Bool

    /// Batches of at most 4 chunks per thread and at most `LatteLayout.decodeBatchBytes`
    /// (at least one chunk each). `requested` threads are capped at the online cores and at
    /// `LatteLayout.decodeScratchBytes / maxRaw`, so buffers stay within
    /// 2 × decodeBatchBytes + decodeScratchBytes whatever the caller asks for.
    ///
    /// `pairTwins`: a replica with delta chunks whose twin is streamed too has its chunks
    /// placed right after its twin's, chunk by chunk, in the same batch (one decode of the
    /// twin's chunk then serves both); the tensors' chunks then interleave.
    init(_ tensors: [LatteTensor], requestedThreads requested: Int, pairTwins: Bool = false) {
        // Validated manifests: raw ≤ maxChunkSize (64 MiB), so none of the sums below comes near overflow.
        maxRaw = tensors.lazy.flatMap(\.chunks).map(\.raw).max() ?? 0
        let replicaOf = pairTwins ? Self.pairs(tensors) : [:]
        let paired = Set(replicaOf.values)
        // A twin delta decodes the twin's chunk into a second scratch buffer per thread,
        // unless that twin's chunk is decoded beside it or the twin lies in the base (read in place).
        hasDeltas = tensors.indices.contains { i in
            !paired.contains(i) && tensors[i].twinBase == nil && tensors[i].chunks.contains(where: \.xorTwin)
        }
        let perThread = max(maxRaw, 1) * (hasDeltas ? 2 : 1)
        threads = max(1, min(requested, SystemInfo.onlineCores, LatteLayout.decodeScratchBytes / perThread))
        var starts: [Int] = []
        var total = 0
        for t in tensors {
            starts.append(total)
            total += t.nbytes
        }
        var cutter = BatchCutter(perBatch: threads * 4)
        for (ti, t) in tensors.enumerated() where !paired.contains(ti) {
            if t.chunks.isEmpty { cutter.addEmpty(tensor: ti, at: starts[ti]) }
            var offset = 0
            for (k, c) in t.chunks.enumerated() {
                let twin = DecodeJob(tensor: ti, chunk: k, isLast: k == t.chunks.count - 1, at: starts[ti] + offset, slabOffset: 0)
                if let r = replicaOf[ti] {
                    let replica = DecodeJob(tensor: r, chunk: k, isLast: twin.isLast, at: starts[r] + offset, slabOffset: 0)
                    cutter.add([(twin, c.raw), (replica, c.raw)])
                } else {
                    cutter.add([(twin, c.raw)])
                }
                offset += c.raw
            }
        }
        batches = cutter.batches
        slabBytes = cutter.slabBytes
    }

    /// Twin index -> replica index, for replicas with delta chunks whose twin is among
    /// `tensors` (same dtype and shape, so the same chunk sizes, which is checked here too:
    /// a pair whose chunks differ is left unpaired, each delta then decoding its twin's chunk).
    static func pairs(_ tensors: [LatteTensor]) -> [Int: Int] {
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        var out: [Int: Int] = [:]
        for (i, t) in tensors.enumerated() where t.chunks.contains(where: \.xorTwin) {
            guard let name = t.twin, let w = index[name], w != i, out[w] == nil,
                  tensors[w].chunks.map(\.raw) == t.chunks.map(\.raw) else { continue }
            out[w] = i
        }
        return out
    }
}

/// Cuts jobs into batches (at most `perBatch` chunks and `LatteLayout.decodeBatchBytes`
/// each, at least one unit), giving each chunk its 64-byte aligned slice of the slab. A unit
/// (a twin's chunk and its replica's) is never split across batches.
struct BatchCutter {
    let perBatch: Int
    var batches: [[DecodeJob]] = [[]]
    var slabBytes = 0
    private var batchBytes = 0
    private var chunks = 0

    init(perBatch: Int) { self.perBatch = perBatch }

    mutating func addEmpty(tensor: Int, at: Int) {
        batches[batches.count - 1].append(DecodeJob(tensor: tensor, chunk: -1, isLast: true, at: at, slabOffset: 0))
    }

    mutating func add(_ unit: [(job: DecodeJob, raw: Int)]) {
        let slices = unit.map { ($0.raw + 63) / 64 * 64 }
        let bytes = slices.reduce(0, +)
        if chunks > 0 && (chunks + unit.count > perBatch || batchBytes + bytes > LatteLayout.decodeBatchBytes) {
            batches.append([])
            batchBytes = 0
            chunks = 0
        }
        var first: Int?
        for (u, slice) in zip(unit, slices) {
            var job = u.job
            job.slabOffset = batchBytes
            if first != nil { job.twinSlabOffset = first }
            first = first ?? batchBytes
            batches[batches.count - 1].append(job)
            batchBytes += slice
            chunks += 1
        }
        slabBytes = max(slabBytes, batchBytes)
    }
}

/// What each chunk of a batch came to. Each slot is written by exactly one worker and read
/// by the consumer only after the batch's group is done (the wait orders the accesses):
/// separate heap slots, not one Swift array that several threads would mutate at once.
/// (That order is why the unchecked Sendable is safe: the pointer itself never changes.)
final class DecodeOutcomes: @unchecked Sendable {
    enum Outcome { case pending, decoded, failed(any Error) }
    private let slots: UnsafeMutablePointer<Outcome>
    let count: Int

    init(count: Int) {
        self.count = count
        slots = .allocate(capacity: max(count, 1))
        slots.initialize(repeating: .pending, count: count)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    func set(_ i: Int, _ outcome: Outcome) { slots[i] = outcome }
    subscript(i: Int) -> Outcome { slots[i] }
}

/// What every batch of one `stream` call reads from.
final class DecodeSource: Sendable {
    let file: MappedFile
    let path: String
    let tensors: [LatteTensor]
    let sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)?
    /// One scratch buffer per thread, shared by consecutive batches: a batch starts only
    /// after the previous one finished decoding, so no two workers use one at once.
    let scratch: [AlignedBuffer]
    /// One buffer per thread for the twin's chunk of a delta chunk (none without deltas).
    let twinScratch: [AlignedBuffer]
    /// Per tensor, its twin's bytes when the twin is stored in the base (checked, held here).
    let twinBase: [TensorBytes?]

    init(file: MappedFile, path: String, tensors: [LatteTensor], plan: DecodePlan,
         sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)?, twinBase: [TensorBytes?] = []) {
        self.twinBase = twinBase
        self.file = file
        self.path = path
        self.tensors = tensors
        self.sink = sink
        scratch = plan.maxRaw == 0 ? [] : (0 ..< plan.threads).map { _ in AlignedBuffer(size: plan.maxRaw) }
        twinScratch = plan.maxRaw == 0 || !plan.hasDeltas ? [] : (0 ..< plan.threads).map { _ in AlignedBuffer(size: plan.maxRaw) }
    }

    func entry(_ j: DecodeJob) -> ChunkEntry { tensors[j.tensor].chunks[j.chunk] }
}

/// One batch of chunks being decoded on the global queue. It owns its slab (and, through its
/// source, the scratch buffers); the workers' closure owns the batch.
final class DecodeBatch: Sendable {
    let jobs: [DecodeJob]
    let outcomes: DecodeOutcomes
    private let slab: AlignedBuffer
    private let source: DecodeSource
    private let group = DispatchGroup()
    /// The stored byte ranges the batch reads, merged where they touch.
    private let storedRanges: [Range<Int>]
    /// Job ranges one worker does in order: single jobs, and twin-replica pairs.
    private let units: [Range<Int>]

    init(jobs: [DecodeJob], slab: AlignedBuffer, source: DecodeSource) {
        self.jobs = jobs
        var units: [Range<Int>] = []
        var i = 0
        while i < jobs.count {
            let pair = i + 1 < jobs.count && jobs[i + 1].twinSlabOffset != nil
            units.append(i ..< i + (pair ? 2 : 1))
            i += pair ? 2 : 1
        }
        self.units = units
        self.slab = slab
        self.source = source
        outcomes = DecodeOutcomes(count: jobs.count)
        storedRanges = DecodeBatch.merged(jobs.filter { $0.chunk >= 0 }.map {
            let c = source.entry($0)
            return c.offset ..< c.offset + c.length
        })
    }

    /// Maps the batch's stored bytes (one `madvise` per run of adjacent chunks instead of a
    /// page fault per 4 KiB) and starts the workers.
    func start() {
        for r in storedRanges { source.file.advise(r.lowerBound, r.count, .populate) }
        guard jobs.contains(where: { $0.chunk >= 0 }) else { return }
        let n = max(1, min(source.scratch.count, units.count))
        DispatchQueue.global().async(group: group) { [self] in
            DispatchQueue.concurrentPerform(iterations: n) { t in self.work(thread: t, of: n) }
        }
    }

    /// Blocks until every worker of the batch has returned.
    func wait() { group.wait() }

    /// The raw bytes of job `i` (valid while the batch is alive).
    func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        let c = source.entry(jobs[i])
        return UnsafeRawBufferPointer(rebasing: slab.bytes[jobs[i].slabOffset ..< jobs[i].slabOffset + c.raw])
    }

    /// Drops the batch's stored pages from the resident set once it has been consumed: memory
    /// stays at two batches even when a whole multi-GB file is exported.
    func releaseStoredPages() {
        for r in storedRanges { source.file.advise(r.lowerBound, r.count, .drop) }
    }

    /// Worker `t` of `n`: units t, t + n, … (static striding: chunks are nearly equal in
    /// size). A unit is one job, or a twin's chunk and its replica's, done in that order.
    private func work(thread t: Int, of n: Int) {
        for u in stride(from: t, to: units.count, by: n) {
            for i in units[u] where jobs[i].chunk >= 0 {
                if jobs[i].twinSlabOffset != nil, case .failed(let e) = outcomes[i - 1] {
                    outcomes.set(i, .failed(e))   // its twin's chunk (the job before) did not decode
                    continue
                }
                decode(i, thread: t)
            }
        }
    }

    /// Decodes job `i` into its slice of the slab and hands it to the sink.
    private func decode(_ i: Int, thread t: Int) {
        let j = jobs[i]
        let tensor = source.tensors[j.tensor]
        let c = tensor.chunks[j.chunk]
        let out = UnsafeMutableRawBufferPointer(rebasing: slab.bytes[j.slabOffset ..< j.slabOffset + c.raw])
        do {
            try ChunkCoder.decode(c, stored: UnsafeRawBufferPointer(rebasing: source.file.bytes[c.offset ..< c.offset + c.length]),
                                  into: out, scratch: source.scratch[t].bytes)
            if c.xorTwin {
                // A paired twin's chunk was decoded just before, by this thread, into the slab.
                let decoded = j.twinSlabOffset.map { at in UnsafeRawBufferPointer(rebasing: slab.bytes[at ..< at + c.raw]) }
                try TwinDelta.resolve(tensor, chunk: j.chunk, out, decoded: decoded,
                                      base: j.tensor < source.twinBase.count ? source.twinBase[j.tensor] : nil, file: source.file.bytes,
                                      twin: { source.twinScratch.isEmpty ? nil : source.twinScratch[t].bytes }, scratch: source.scratch[t].bytes)
            }
        } catch {
            let e = LatteFileError.chunkCorrupt(tensor: tensor.name, chunk: j.chunk, reason: String(describing: error))
            outcomes.set(i, .failed(LocatedError(path: source.path, e)))
            return
        }
        do {
            try source.sink?(j.at, UnsafeRawBufferPointer(out))
            outcomes.set(i, .decoded)
        } catch {
            outcomes.set(i, .failed(error))
        }
    }

    /// Sorted ranges with those that touch or overlap joined (chunks of a tensor usually sit
    /// end to end), and those at most `gap` bytes apart. A file whose chunks are scattered
    /// gets one range per chunk rather than one span over everything between them.
    static func merged(_ ranges: [Range<Int>], within gap: Int = 0) -> [Range<Int>] {
        var out: [Range<Int>] = []
        for r in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if let last = out.last, r.lowerBound - last.upperBound <= gap {
                out[out.count - 1] = last.lowerBound ..< max(last.upperBound, r.upperBound)
            } else {
                out.append(r)
            }
        }
        return out
    }
}
