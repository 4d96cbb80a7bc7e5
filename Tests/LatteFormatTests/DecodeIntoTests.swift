import Testing
import LatteCore
import LatteReaders
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
}
