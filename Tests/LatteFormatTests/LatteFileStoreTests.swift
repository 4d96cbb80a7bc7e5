import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// A `.latte` file as a tensor store hands out the bytes of the checkpoint it was made
/// from, decompressed and checksum-verified, whole or in ranges; a raw single-chunk tensor
/// in place, any other as a copy.
@Suite struct LatteFileStoreTests {
    @Test func bytesAreTheSourceCheckpoints() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, file) = try syntheticLatte(dir, options: testOptions(chunkSize: 4096))
        #expect(file.tensors.map(\.name) == source.tensors.map(\.name))
        var kinds = Set<Bool>()
        for e in source.tensors {
            let t = try #require(file.tensor(named: e.name))
            let expected = try source.bytes(of: e).withUnsafeBytes { Array($0) }
            #expect(t.byteCount == expected.count && t.elementCount == e.elementCount && t.shape == e.shape)
            let whole = try file.bytes(of: t)
            #expect(whole.withUnsafeBytes { Array($0) } == expected, "\(e.name)")
            let inPlace = t.chunks.count == 1 && t.chunks[0].codec == .raw
            kinds.insert(inPlace)
            #expect(whole.isZeroCopy == inPlace && !whole.mayReleasePages, "\(e.name)")
            #expect(file.copiedBytes(of: t) == (inPlace ? 0 : t.nbytes))
            let n = expected.count
            // Ranges inside one chunk, across chunk boundaries, and empty.
            for r in [0 ..< min(n, 10), n / 3 ..< n, min(n, 4090) ..< min(n, 8200), n ..< n] {
                #expect(try file.bytes(of: t, range: r).withUnsafeBytes { Array($0) } == Array(expected[r]), "\(e.name) \(r)")
            }
            #expect(throws: TensorReadError.rangeOutsideTensor(tensor: e.name, lower: 0, upper: n + 1, byteCount: n)) {
                _ = try file.bytes(of: t, range: 0 ..< n + 1)
            }
        }
        #expect(kinds == [true, false], "both ways of reading are exercised")
        // Without a plan there is no group section.
        #expect(file.groupSections.isEmpty)
        #expect(throws: (any Error).self) { _ = try file.readGroupSection(0) }
        #expect(file.groupSectionBytes(0) == 0)
    }
}
