import Foundation
import Testing
import LatteCore
@testable import LatteReaders

/// A safetensors file read from memory (`MemoryRegion`) is the checkpoint the mapped file
/// gives: same entries, same bytes, whole or in ranges, handed out in place; its errors
/// name the region's label.
@Suite struct InMemoryCheckpointTests {
    static let files = ["all_dtypes", "no_metadata", "small", "whitespace_header"].map { TorchFixtures.readers + $0 + ".safetensors" }
        + ["tiny/model.safetensors", "tiny-bf16/model.safetensors", "k2/inputs.safetensors", "k2/expected.safetensors"]
        .map { TorchFixtures.root + "models/" + $0 }

    func contents(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func bytes(_ c: Checkpoint, _ e: TensorEntry, _ range: Range<Int>? = nil) throws -> [UInt8] {
        try (range.map { try c.bytes(of: e, range: $0) } ?? c.bytes(of: e)).withUnsafeBytes { Array($0) }
    }

    @Test(arguments: files) func readsTheSameBytesAsTheMappedFile(path: String) throws {
        let mapped = try SafetensorsReader.open(path: path)
        let memory = try SafetensorsReader.open(region: MemoryRegion(copying: contents(path), label: "memory:" + path))
        #expect(memory.files.map(\.path) == ["memory:" + path] && !memory.files[0].isFileMapped && mapped.files[0].isFileMapped)
        #expect(memory.format == mapped.format && memory.metadata == mapped.metadata)
        #expect(memory.tensors == mapped.tensors)
        #expect(!mapped.tensors.isEmpty)
        for e in mapped.tensors {
            #expect(try bytes(memory, e) == bytes(mapped, e), "\(e.name)")
            let n = e.byteCount
            for r in [0 ..< n / 2, n / 3 ..< n, n ..< n] {
                #expect(try bytes(memory, e, r) == bytes(mapped, e, r), "\(e.name) \(r)")
            }
            let (m, f) = (try memory.bytes(of: e), try mapped.bytes(of: e))
            #expect(m.isZeroCopy && f.isZeroCopy, "\(e.name): read in place from both")
            #expect(!m.mayReleasePages && f.mayReleasePages, "\(e.name): only a file map's pages may be handed back")
            #expect(memory.copiedBytes(of: e) == 0)
        }
    }

    @Test func errorsNameTheLabel() throws {
        let whole = try contents(TorchFixtures.readers + "small.safetensors")
        let label = "model.latte:reference/inputs.safetensors"
        let truncated = Array(whole.dropLast(3))
        var message = ""
        do { _ = try SafetensorsReader.open(region: MemoryRegion(copying: truncated, label: label)) } catch { message = "\(error)" }
        let reason = try #require(caught { _ = try truncated.withUnsafeBytes { try SafetensorsReader.parseHeader($0, fileIndex: 0) } })
        #expect(message == "\(label): \(reason)", "\(message)")
        #expect(message.contains("truncated"), "\(message)")
    }

    @Test func aRegionInMemory() throws {
        let empty = MemoryRegion(copying: [], label: "nothing")
        #expect(empty.size == 0 && empty.bytes.isEmpty && empty.slice(0, 0)?.count == 0)
        let region = MemoryRegion(copying: [1, 2, 3, 4, 5], label: "five")
        #expect(Array(try #require(region.slice(1, 3))) == [2, 3, 4])
        #expect(region.slice(3, 3) == nil && region.slice(-1, 1) == nil && region.slice(5, 0)?.count == 0)
        #expect(Int(bitPattern: region.bytes.baseAddress) % 64 == 0)
        try region.checkUnchanged()
        #expect(throws: (any Error).self) { _ = try SafetensorsReader.open(region: empty) }
    }
}
