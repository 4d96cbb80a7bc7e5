import Dispatch
import Testing
import LatteCore
import LatteReaders
import LatteSystem
@testable import LatteFormat
import LatteTestSupport

/// `LatteFile.decode(_:into:threads:)`, the C library's read: chunks decoded in place into
/// caller buffers give what `read` gives, on any thread count, and damage is reported
/// naming the tensor.
@Suite struct DecodeIntoTests {
    @Test(arguments: [1, 2, 8]) func givesTheBytesReadGives(threads: Int) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (_, file) = try syntheticLatte(dir, options: testOptions(chunkSize: 4096))
        let buffers = file.tensors.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.nbytes, alignment: 64) }
        defer { for b in buffers { b.deallocate() } }
        try file.decode(file.tensors, into: buffers, threads: threads)
        for (t, b) in zip(file.tensors, buffers) {
            #expect(Array(UnsafeRawBufferPointer(b)) == (try file.read(t)), "\(t.name)")
        }
    }

    @Test func aCorruptChunkNamesItsTensor() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (_, bytes, file) = try multiChunkLatte(dir, chunks: 6)
        let t = file.tensors[0]
        var damaged = bytes
        damaged[t.chunks[2].offset + t.chunks[2].length / 2] ^= 0x55
        let bad = dir.file("bad.latte")
        writeFile(bad, damaged)
        let badFile = try LatteFile(path: bad)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: t.nbytes, alignment: 64)
        defer { buffer.deallocate() }
        let error = try #require(throws: LocatedError.self) { try badFile.decode([badFile.tensors[0]], into: [buffer], threads: 2) }
        #expect(error.description.hasPrefix("\(bad): tensor '\(t.name)': "), "\(error)")
    }

    /// Twin deltas: a delta chunk decoded in place is XORed with its twin's chunk, as `read` does.
    @Test(arguments: [1, 2]) func twinDeltasDecodeInPlace(threads: Int) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = TwinDeltaTests.pair(.bf16, count: 8192, flips: 2, seed: 11)
        let file = try TwinDeltaTests.write(dir, .bf16, count: 8192, twin: twin, replica: replica, deltas: true)
        let gen = try #require(file.tensor(named: "gen.layers.0.w"))
        let deltaChunks = gen.chunks.filter { $0.xorTwin }.count
        #expect(deltaChunks > 0, "the file exercises deltas")
        let buffers = file.tensors.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.nbytes, alignment: 64) }
        defer { for b in buffers { b.deallocate() } }
        // The replica alone (its twin is read from the file, not from a buffer), then both.
        let alone = UnsafeMutableRawBufferPointer.allocate(byteCount: gen.nbytes, alignment: 64)
        defer { alone.deallocate() }
        try file.decode([gen], into: [alone], threads: threads)
        #expect(Array(UnsafeRawBufferPointer(alone)) == replica)
        try file.decode(file.tensors, into: buffers, threads: threads)
        for (t, b) in zip(file.tensors, buffers) {
            #expect(Array(UnsafeRawBufferPointer(b)) == (t.name == gen.name ? replica : twin), "\(t.name)")
        }
    }

    /// Concurrent reads of one open file (the C library's promise) with a damaged chunk: for
    /// every chunk of the pair in turn, four threads at once read both tensors (twin chunks
    /// paired with the replica's) on two threads each, and the twin alone. Each read that
    /// touches the damage fails naming a tensor of the pair; the others give the bytes. Run
    /// under ThreadSanitizer and AddressSanitizer by `fuzz/sanitize.sh`.
    @Test func concurrentReadsOfADamagedFileFailCleanly() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = TwinDeltaTests.pair(.bf16, count: 4096, flips: 2, seed: 21)
        let clean = try TwinDeltaTests.write(dir, .bf16, count: 4096, twin: twin, replica: replica, deltas: true)
        let bytes = readFile(clean.path)
        let targets = clean.tensors.enumerated().flatMap { i, t in t.chunks.indices.map { (i, $0) } }
        #expect(targets.count >= 8 && clean.tensors[1].chunks.contains { $0.xorTwin }, "several chunks, some deltas")
        for (i, k) in targets {
            let c = clean.tensors[i].chunks[k]
            var damaged = bytes
            damaged[c.offset + c.length / 2] ^= 0x5A
            let path = dir.file("bad-\(i)-\(k).latte")
            writeFile(path, damaged)
            let file = try LatteFile(path: path)
            let outcomes = HeapMutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 4) { r in
                let read = r % 2 == 0 ? file.tensors : [file.tensors[0]]
                let buffers = read.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.nbytes, alignment: 64) }
                defer { for b in buffers { b.deallocate() } }
                let outcome: String
                do {
                    try file.decode(read, into: buffers, threads: 2)
                    let right = zip(read, buffers).allSatisfy { t, b in Array(UnsafeRawBufferPointer(b)) == (t.name == "gen.layers.0.w" ? replica : twin) }
                    outcome = right ? "ok \(read.count)" : "wrong bytes"
                } catch let e as LocatedError {
                    outcome = e.description.hasPrefix("\(path): tensor '") ? "named \(read.count)" : "unnamed: \(e)"
                } catch {
                    outcome = "other: \(error)"
                }
                outcomes.withLock { $0.append(outcome) }
            }
            let seen = outcomes.withLock { $0 }
            // Damage in the twin fails every read; in the replica, only the reads of both.
            let expected = i == 0 ? ["named 1", "named 1", "named 2", "named 2"] : ["named 2", "named 2", "ok 1", "ok 1"]
            #expect(seen.sorted() == expected, "tensor \(i) chunk \(k): \(seen)")
        }
    }
}

/// `StoredPageRelease`: stored pages go back a block of consecutive jobs at a time, once
/// every job of the block is done, with neighbouring ranges joined into one call.
@Suite struct StoredPageReleaseTests {
    final class Calls: @unchecked Sendable {
        let lock = HeapMutex<[Range<Int>]>([])
        var all: [Range<Int>] { lock.withLock { $0 } }
    }

    @Test func blocksCloseAtTheirBytesAndReleaseWhenTheirLastJobIsDone() {
        let calls = Calls()
        // Jobs of 100 stored bytes, 64 bytes apart as aligned chunks are; blocks of 250 bytes.
        let jobs = (0 ..< 7).map { k in [k * 164 ..< k * 164 + 100] }
        let release = StoredPageRelease(jobs: jobs, blockBytes: 250) { r in calls.lock.withLock { $0.append(r) } }
        #expect(release.blockOf == [0, 0, 0, 1, 1, 1, 2])
        #expect(release.ranges == [[0 ..< 428], [492 ..< 920], [984 ..< 1084]])
        // Out of order, as workers finish: nothing goes until a block's last job is done.
        release.finished(1)
        release.finished(3)
        release.finished(0)
        #expect(calls.all.isEmpty)
        release.finished(2)
        #expect(calls.all == [0 ..< 428])
        // A read that stopped at an error: its open blocks go too, each once.
        release.finished(5)
        release.releaseUnfinished()
        #expect(calls.all == [0 ..< 428, 492 ..< 920, 984 ..< 1084])
    }

    @Test func rangesUnder64KiBApartAreJoined() {
        let gap = (1 << 16) - 1
        #expect(DecodeBatch.merged([], within: gap) == [])
        #expect(DecodeBatch.merged([5000 ..< 6000, 0 ..< 100, 100 ..< 200], within: gap) == [0 ..< 6000])
        #expect(DecodeBatch.merged([0 ..< 100, (1 << 16) + 100 ..< (1 << 16) + 200], within: gap) == [0 ..< 100, (1 << 16) + 100 ..< (1 << 16) + 200])
        // A twin's chunk read beside the replica's, far away in the shared section.
        #expect(DecodeBatch.merged([10 << 20 ..< (10 << 20) + 500, 0 ..< 500, 600 ..< 900], within: gap) == [0 ..< 900, 10 << 20 ..< (10 << 20) + 500])
        // Without a gap, only touching ranges join (the streaming pipeline's batches).
        #expect(DecodeBatch.merged([0 ..< 100, 100 ..< 200, 201 ..< 300]) == [0 ..< 200, 201 ..< 300])
    }
}
