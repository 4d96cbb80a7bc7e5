import Testing
import LatteTestSupport
import LatteCore
@testable import LatteFormat

/// Roles are written as the manifest has always spelled them, and a file's other roles are
/// read as they are.
@Suite struct TensorRoleTests {
    @Test func rawValuesAreTheManifestSpellings() {
        #expect(TensorRole.allCases.map(\.rawValue) == ["context", "shared", "replica", "res_gate", "extra"])
    }

    @Test func aRoleLatteDoesNotWriteIsReadAsItIs() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let data: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let c = ChunkEntry(offset: LatteLayout.headerSize, length: data.count, raw: data.count, codec: .raw)
        let t = LatteTensor(name: "w", dtype: .u8, shape: [8], nbytes: 8, section: 0, role: "adapter", checksum: XXH64.hash(data),
                            chunks: [c])
        writeFile(dir.file("r.latte"), assembledLatte(data: data, manifest(chunkSize: 8, dataBytes: data.count, [t])))
        let file = try LatteFile(path: dir.file("r.latte"))
        #expect(file.tensor(named: "w")?.role == "adapter")
        #expect(try file.read(named: "w") == data)
    }
}
