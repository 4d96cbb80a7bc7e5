import Testing
import LatteCore
import LatteReaders
import LatteSystem
@testable import LatteFormat
import LatteTestSupport

/// Errors in the middle of `LatteFile.stream`, while the next batch is decoding on other
/// threads: a damaged chunk, a wrong checksum, `body` or `sink` throwing. Each must come out as
/// one error, with no worker still writing anywhere once `stream` has returned. (The use after
/// free this guards against showed only in optimized builds; `make asan` style runs of the CLI
/// over the same damage are in the report of issue 10. These tests check the ownership and
/// the waiting that prevent it.)
@Suite struct StreamLifetimeTests {
    /// 24 chunks at 4 KiB: with 2 threads, three batches of 8, so chunk 0 fails while
    /// batch 1 decodes.
    static let chunks = 24

    /// One damage of chunk 0 of `w` per case, by what it breaks.
    enum Damage: String, CaseIterable {
        case ransWords, ransState, ransBitmap, shortChunk
    }

    func damaged(_ damage: Damage, _ dir: TempDir) throws -> (path: String, tensor: LatteTensor) {
        let (path, bytes, file) = try multiChunkLatte(dir, chunks: Self.chunks)
        let t = file.tensors[0]
        let c = t.chunks[0]
        #expect(t.chunks.count == Self.chunks && c.codec == .planes)
        guard let k = c.planes.lastIndex(where: { $0.codec == .rans32 }) else {
            Issue.record("chunk 0 has no rANS plane: \(c.planes)")
            return (path, t)
        }
        let plane = c.offset + c.planes[..<k].reduce(0) { $0 + $1.length }
        var out = bytes
        switch damage {
        case .ransWords: out[plane + c.planes[k].length - 3] ^= 0x5A
        case .ransState:
            // The first state follows the bitmap and the frequencies: 0 is outside [2^15, 2^31).
            let symbols = (0 ..< 256).filter { s in bytes[plane + s >> 3] & (1 << UInt8(s & 7)) != 0 }.count
            let state = plane + RANS.tableBytes + 2 * symbols
            for i in 0 ..< 4 { out[state + i] = 0 }
        case .ransBitmap: for i in 0 ..< RANS.tableBytes { out[plane + i] = 0 }
        case .shortChunk:
            // The manifest stores 16 bytes fewer of the last plane (and of the chunk).
            out = try editedManifest(bytes, path: path) { m in
                m.tensors[0].chunks[0].length -= 16
                m.tensors[0].chunks[0].planes[k].length -= 16
            }
        }
        writeFile(path, out)
        return (path, t)
    }

    @Test(arguments: Damage.allCases)
    func damagedFirstChunkFailsCleanly(_ damage: Damage) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, t) = try damaged(damage, dir)
        for threads in [2, 4, 64] {
            // Repeated: the failure races the batch in flight.
            for _ in 0 ..< 10 {
                let file = try LatteFile(path: path)
                file.threads = threads
                let read = errorText { _ = try file.read(named: t.name) }
                #expect(read.contains("tensor 'w': chunk 0 is corrupt"), "\(damage), \(threads) threads: \(read)")
                let report = LatteVerifier.verify(file)
                #expect(report.failures.map(\.message) == [read], "\(damage)")
                let export = errorText { try SafetensorsExport.export(file, to: dir.file("x.safetensors")) }
                #expect(export == read, "\(damage)")
                #expect(dir.entries == ["w.latte", "w.safetensors"], "\(damage): \(dir.entries)")
            }
        }
    }

    /// The first of two tensors has a wrong checksum: the error comes after its last chunk,
    /// with the second tensor's first batch decoding.
    @Test func checksumMismatchBeforeABatchInFlight() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let small = makeBytes(.f32, count: 256, pattern: .weights, seed: 1)
        let big = makeBytes(.f32, count: 1 << 15, pattern: .weights, seed: 2)
        writeSafetensors(dir.file("m.safetensors"), [SyntheticTensor(name: "a", dtype: .f32, shape: [256], bytes: small),
                                                     SyntheticTensor(name: "b", dtype: .f32, shape: [1 << 15], bytes: big)])
        let path = dir.file("m.latte")
        try LatteWriter.write(try CheckpointReader.open(path: dir.file("m.safetensors")), plan: nil, to: path, options: testOptions())
        writeFile(path, try editedManifest(readFile(path), path: path) { $0.tensors[0].checksum ^= 1 })
        for _ in 0 ..< 20 {
            let file = try LatteFile(path: path)
            file.threads = 2
            let m = errorText { try SafetensorsExport.export(file, to: dir.file("x.safetensors")) }
            #expect(m.contains("tensor 'a': checksum mismatch"), "\(m)")
            #expect(!fileExists(dir.file("x.safetensors")))
        }
    }

    /// A sink that fails (a full disk, for export) and a body that fails: the error is theirs,
    /// and once `stream` is back no sink call is running and none starts later.
    @Test(arguments: [false, true])
    func sinkAndBodyErrorsWaitForTheBatchInFlight(failInBody: Bool) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (_, _, file) = try multiChunkLatte(dir, chunks: Self.chunks)
        file.threads = 2
        struct Planted: Error {}
        for failAt in [0, 4096, 3 * 4096] {
            let probe = SinkProbe()
            do {
                try file.stream(file.tensors, sink: { at, _ in
                    try probe.call { if !failInBody && at == failAt { throw Planted() } }
                }) { _, bytes in
                    if failInBody && bytes.count > 0 { throw Planted() }
                }
                Issue.record("stream did not throw")
            } catch {
                #expect(error is Planted, "\(error)")
            }
            let (active, calls) = probe.returned()
            #expect(active == 0, "a sink call was still running after stream threw")
            usleep(20_000)
            #expect(probe.calls == calls, "sink calls started after stream threw")
        }
    }

    /// A batch owns its slab: the buffer outlives the caller's reference for as long as the
    /// batch (and so any worker) is alive, and goes with the batch.
    @Test func batchesOwnTheirBuffers() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, _, file) = try multiChunkLatte(dir, chunks: 8)
        let plan = DecodePlan(file.tensors, requestedThreads: 2)
        let source = DecodeSource(file: try MappedFile(path: path), path: path, tensors: file.tensors, plan: plan, sink: nil)
        weak var weakSlab: AlignedBuffer?
        var batch: DecodeBatch?
        do {
            let slab = AlignedBuffer(size: plan.slabBytes)
            weakSlab = slab
            batch = DecodeBatch(jobs: plan.batches[0], slab: slab, source: source)
            batch!.start()
        }
        #expect(weakSlab != nil, "the slab went while its batch was alive")
        batch!.wait()
        for i in batch!.jobs.indices {
            guard case .decoded = batch!.outcomes[i] else { Issue.record("chunk \(i) did not decode"); continue }
        }
        batch = nil
        // The queue releases the workers' closure just after the group's wait returns.
        for _ in 0 ..< 1000 where weakSlab != nil { usleep(1000) }
        #expect(weakSlab == nil, "the slab outlived its batch")
    }

    /// Batches and threads whatever the caller asks: slabs and scratch stay within
    /// 2 × decodeBatchBytes + decodeScratchBytes (256 MiB).
    @Test func decodeMemoryIsBounded() {
        func tensor(chunks: Int, raw: Int) -> LatteTensor {
            let c = ChunkEntry(offset: 64, length: raw, raw: raw, codec: .raw)
            return LatteTensor(name: "t", dtype: .u8, shape: [chunks * raw], nbytes: chunks * raw, section: 0, checksum: 0,
                               chunks: Array(repeating: c, count: chunks))
        }
        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        for (raw, requested) in [(64 << 20, 64), (64 << 20, 1), (1 << 20, 64), (1 << 20, 1024), (4096, 64), (100, 3)] {
            let plan = DecodePlan([tensor(chunks: 1000, raw: raw)], requestedThreads: requested)
            #expect(plan.threads >= 1 && plan.threads <= min(requested, cores))
            #expect(plan.threads * plan.maxRaw <= max(LatteLayout.decodeScratchBytes, raw))
            #expect(plan.slabBytes <= max(LatteLayout.decodeBatchBytes, (raw + 63) / 64 * 64))
            #expect(plan.batches.allSatisfy { $0.count <= 4 * plan.threads })
            #expect(plan.batches.reduce(0) { $0 + $1.count } == 1000)
            let total = 2 * plan.slabBytes + plan.threads * plan.maxRaw
            #expect(total <= 256 << 20, "\(raw) bytes × \(requested) threads: \(total) bytes of buffers")
        }
    }

    @Test func storedRangesMergeOnlyWhereTheyTouch() {
        #expect(DecodeBatch.merged([10 ..< 20, 0 ..< 10, 30 ..< 40, 20 ..< 25]) == [0 ..< 25, 30 ..< 40])
        #expect(DecodeBatch.merged([5 ..< 6, 1_000_000 ..< 1_000_001]) == [5 ..< 6, 1_000_000 ..< 1_000_001])
        #expect(DecodeBatch.merged([]) == [])
    }
}

/// Counts sink calls in progress and after `returned()`.
final class SinkProbe: @unchecked Sendable {
    private let lock = HeapMutex()
    private var active = 0
    private var count = 0

    var calls: Int { lock.withLock { count } }

    func call(_ body: () throws -> Void) throws {
        lock.withLock { active += 1; count += 1 }
        defer { lock.withLock { active -= 1 } }
        // Long enough that a worker is still inside when the consumer fails.
        usleep(500)
        try body()
    }

    /// Calls running now, and calls so far.
    func returned() -> (active: Int, calls: Int) { lock.withLock { (active, count) } }
}
