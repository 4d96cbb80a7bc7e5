import Dispatch
import LatteCore
import LatteSystem

/// Decoding straight into memory the caller owns (the C library's reads): no slab, no copy.
extension LatteFile {
    /// Decodes `tensors` (entries of this file's manifest) into `buffers`, one per tensor and
    /// exactly its `nbytes` long, every chunk decoded in place at its offset, on up to
    /// `threads` threads (capped like `stream`: online cores, `LatteLayout.decodeScratchBytes`
    /// of scratch). Each tensor's checksum is then verified over the bytes written; on a throw
    /// the buffers hold unspecified bytes. Memory beyond the buffers: one chunk of scratch
    /// per thread, and the stored pages read, which go back to the kernel a block of chunks
    /// at a time (`StoredPageRelease`). Safe to call from several threads at once on one file.
    public func decode(_ tensors: [LatteTensor], into buffers: [UnsafeMutableRawBufferPointer], threads: Int) throws {
        precondition(tensors.count == buffers.count && zip(tensors, buffers).allSatisfy { $0.nbytes == $1.count },
                     "one buffer of exactly nbytes per tensor")
        // A delta chunk reads its twin's chunk, which may sit in another section (`shared`).
        for s in Set(tensors.map(\.section) + tensors.compactMap(\.twinSection)) { mark(s) }
        // Tensors stored in the base are copied from it (checked), twins in the base read in place.
        for (t, out) in zip(tensors, buffers) where t.base != nil {
            try baseBytes(t.base!, for: t.name).withUnsafeBytes { out.copyMemory(from: $0) }
        }
        let twins = try twinsInBase(tensors)
        let jobs = InPlaceJob.plan(tensors)
        let maxRaw = jobs.lazy.map { tensors[$0.tensor].chunks[$0.chunk].raw }.max() ?? 0
        // Scratch per thread: one chunk, and a second for a twin's chunk when a delta's twin
        // is neither among the tensors read (its decoded chunk is then used in place) nor in
        // the base (read in place too).
        let unpaired = jobs.contains { j in j.replica == nil && twins[j.tensor] == nil && tensors[j.tensor].chunks[j.chunk].xorTwin }
        let perThread = unpaired ? 2 * max(maxRaw, 1) : max(maxRaw, 1)
        let n = max(1, min(threads, SystemInfo.onlineCores, LatteLayout.decodeScratchBytes / perThread, jobs.count))
        let release = StoredPageRelease(file: file, jobs: jobs.map { j in
            storedRanges(tensors, j.tensor, chunk: j.chunk, twins: twins) + (j.replica.map { storedRanges(tensors, $0, chunk: j.chunk, twins: twins) } ?? [])
        })
        defer { release.releaseUnfinished() }
        let work = InPlaceWork(jobs.count)
        try work.run(threads: n) { job, scratch in
            defer { release.finished(job) }
            let j = jobs[job]
            try decodeChunk(tensors, j.tensor, chunk: j.chunk, at: j.at, into: buffers, scratch: scratch, maxRaw: maxRaw, baseTwins: twins)
            guard let r = j.replica else { return }
            // The replica's chunk right after its twin's, by the same thread: a delta is XORed
            // with the twin's chunk just written (still in cache), not decoded a second time.
            let twin = UnsafeRawBufferPointer(rebasing: buffers[j.tensor][j.at ..< j.at + tensors[j.tensor].chunks[j.chunk].raw])
            try decodeChunk(tensors, r, chunk: j.chunk, at: j.at, into: buffers, scratch: scratch, maxRaw: maxRaw, baseTwins: twins, twin: twin)
        }
        // Checksums in parallel over tensors: each covers a whole tensor, so one is one job.
        try InPlaceWork(tensors.count).run(threads: min(n, max(tensors.count, 1))) { i, _ in
            let t = tensors[i]
            let found = XXH64.hash(UnsafeRawBufferPointer(buffers[i]))
            guard found == t.checksum else {
                throw LocatedError(path: path, LatteFileError.checksumMismatch(tensor: t.name, expected: t.checksum, found: found))
            }
        }
    }

    /// Decodes chunk `k` of `tensors[i]` (raw bytes from `at` on) into its buffer; a delta
    /// chunk is XORed with its twin's (`TwinDelta.resolve`): `twin` (decoded just before) when
    /// given, else its twin in the base (`baseTwins[i]`), else its twin's chunk decoded into
    /// the second scratch buffer.
    private func decodeChunk(_ tensors: [LatteTensor], _ i: Int, chunk k: Int, at: Int, into buffers: [UnsafeMutableRawBufferPointer],
                             scratch: (_ index: Int, _ size: Int) -> UnsafeMutableRawBufferPointer, maxRaw: Int,
                             baseTwins: [TensorBytes?], twin: UnsafeRawBufferPointer? = nil) throws {
        let t = tensors[i], c = t.chunks[k]
        file.advise(c.offset, c.length, .populate)
        let out = UnsafeMutableRawBufferPointer(rebasing: buffers[i][at ..< at + c.raw])
        advise(UnsafeRawBufferPointer(out), .populateWrite)
        do {
            try ChunkCoder.decode(c, stored: UnsafeRawBufferPointer(rebasing: file.bytes[c.offset ..< c.offset + c.length]),
                                  into: out, scratch: scratch(0, maxRaw))
            guard c.xorTwin else { return }
            try TwinDelta.resolve(t, chunk: k, out, decoded: twin, base: baseTwins[i], file: file.bytes,
                                  twin: { scratch(1, maxRaw) }, scratch: scratch(0, maxRaw))
        } catch {
            throw LocatedError(path: path, LatteFileError.chunkCorrupt(tensor: t.name, chunk: k, reason: String(describing: error)))
        }
    }

    /// The stored bytes `decodeChunk` reads for chunk `k` of `tensors[i]`: the chunk's, and
    /// for a delta whose twin is not in the base, the twin's chunk.
    private func storedRanges(_ tensors: [LatteTensor], _ i: Int, chunk k: Int, twins: [TensorBytes?]) -> [Range<Int>] {
        let t = tensors[i], c = t.chunks[k]
        var ranges = [c.offset ..< c.offset + c.length]
        if c.xorTwin, twins[i] == nil, k < t.twinChunks.count {
            ranges.append(t.twinChunks[k].offset ..< t.twinChunks[k].offset + t.twinChunks[k].length)
        }
        return ranges
    }
}

/// One unit of `decode(_:into:threads:)`: chunk `chunk` of tensor `tensor`, whose raw bytes
/// start at `at` in it, and, when `replica` is set, the same chunk of that replica tensor,
/// whose twin this tensor is (both read: the pair shares one decode of the twin's chunk).
struct InPlaceJob {
    var tensor: Int
    var chunk: Int
    var at: Int
    var replica: Int?

    /// Every chunk of `tensors` once. A replica with delta chunks whose twin is read too has
    /// its chunks paired with the twin's (`DecodePlan.pairs`).
    static func plan(_ tensors: [LatteTensor]) -> [InPlaceJob] {
        let replicaOf = DecodePlan.pairs(tensors)
        let paired = Set(replicaOf.values)
        var jobs: [InPlaceJob] = []
        for (i, t) in tensors.enumerated() where !paired.contains(i) {
            var at = 0
            for (k, c) in t.chunks.enumerated() {
                jobs.append(InPlaceJob(tensor: i, chunk: k, at: at, replica: replicaOf[i]))
                at += c.raw
            }
        }
        return jobs
    }
}

/// Hands the stored pages of finished jobs back to the kernel (`MADV_DONTNEED` on the
/// file's map) a block of consecutive jobs at a time, once every job of the block is done.
///
/// Why blocks, not chunks: each `madvise` that unmaps pages flushes the TLB of every core
/// running the process. Done per chunk, the calls cost 9–17 % of a load of a 45 MB file in
/// this VM (in blocks, loads measured 9 % faster). A block closes at `LatteLayout.releaseBlockBytes` (8 MiB) of stored
/// bytes. Jobs are taken in order, so only blocks holding a job in flight, and the block
/// being taken from, are unfinished: the stored pages resident at once stay below
/// (threads + 1) × (8 MiB + the largest job's stored bytes).
final class StoredPageRelease: Sendable {
    /// Per job, its block.
    let blockOf: [Int]
    /// Per block, its jobs' stored ranges, joined where under 64 KiB apart.
    let ranges: [[Range<Int>]]
    /// Per block, the jobs not finished yet.
    private let remaining: HeapMutex<[Int]>
    private let drop: @Sendable (Range<Int>) -> Void

    /// `jobs`: each job's stored ranges, in the order the jobs are taken. `drop` releases one
    /// range (the file map's `MADV_DONTNEED`; tests record the calls).
    init(jobs: [[Range<Int>]], blockBytes: Int = LatteLayout.releaseBlockBytes, drop: @escaping @Sendable (Range<Int>) -> Void) {
        self.drop = drop
        var blockOf: [Int] = [], ranges: [[Range<Int>]] = [], counts: [Int] = []
        var open: [Range<Int>] = [], bytes = 0, count = 0
        func close() {
            // Consecutive chunks sit end to end but for their 64-byte alignment, and one call
            // per block is the point: ranges under 64 KiB apart are joined. A page of such a
            // gap that another read is using is read again from the file if touched.
            ranges.append(DecodeBatch.merged(open, within: (1 << 16) - 1))
            counts.append(count)
            open = []; bytes = 0; count = 0
        }
        for job in jobs {
            blockOf.append(ranges.count)
            open += job
            bytes += job.reduce(0) { $0 + $1.count }
            count += 1
            if bytes >= blockBytes { close() }
        }
        if count > 0 { close() }
        self.blockOf = blockOf
        self.ranges = ranges
        remaining = HeapMutex(counts)
    }

    /// Releases the pages of `file`'s map.
    convenience init(file: MappedFile, jobs: [[Range<Int>]]) {
        self.init(jobs: jobs) { r in file.advise(r.lowerBound, r.count, .drop) }
    }

    /// Job `job` is done (decoded or failed); the last of its block releases the block's pages.
    func finished(_ job: Int) {
        let b = blockOf[job]
        let last = remaining.withLock { r in
            r[b] -= 1
            return r[b] == 0
        }
        if last { release(b) }
    }

    /// Releases the blocks some of whose jobs were never run (a read stopped at an error).
    /// Call once no job is in flight.
    func releaseUnfinished() {
        let open = remaining.withLock { r in r.indices.filter { r[$0] > 0 } }
        for b in open { release(b) }
    }

    private func release(_ b: Int) {
        for r in ranges[b] { drop(r) }
    }
}

/// Jobs 0 ..< count taken one at a time by `threads` workers (chunks differ in size: a
/// tensor's last one is short), stopping at the first error, which `run` rethrows. Each
/// worker has its own scratch buffers (two: a chunk's, and its twin's), allocated on first use.
private final class InPlaceWork: Sendable {
    private struct State {
        var next = 0
        var error: (any Error)?
    }
    private let count: Int
    private let state = HeapMutex(State())

    init(_ count: Int) { self.count = count }

    private func take() -> Int? {
        state.withLock { s in
            guard s.error == nil, s.next < count else { return nil }
            defer { s.next += 1 }
            return s.next
        }
    }

    func run(threads: Int, _ body: (Int, (_ index: Int, _ size: Int) -> UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard count > 0 else { return }
        // `concurrentPerform` returns only after every worker has: `body` and the buffers it
        // writes to are never used after `run` returns.
        withoutActuallyEscaping(body) { body in
            // nonisolated(unsafe): the workers call `body` at once; each job writes only its own
            // chunk's slice of the caller's buffers and reads arrays nothing mutates.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: threads) { _ in
                var scratch: [AlignedBuffer?] = [nil, nil]
                func scratchOf(_ index: Int, _ size: Int) -> UnsafeMutableRawBufferPointer {
                    if scratch[index] == nil { scratch[index] = AlignedBuffer(size: size) }
                    return scratch[index]!.bytes
                }
                while let job = take() {
                    do { try body(job, scratchOf) } catch {
                        state.withLock { s in if s.error == nil { s.error = error } }
                    }
                }
            }
        }
        if let e = state.withLock({ $0.error }) { throw e }
    }
}
