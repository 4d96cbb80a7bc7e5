import Foundation
import Testing
import LatteFormat
import LatteCore
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

@Suite struct OutputWriterTests {
    @Test func roundTripsThroughTheSafetensorsReader() throws {
        let dir = TempDir().path
        let path = dir + "/out.safetensors"
        let tensors = [
            OutputTensor(name: "sample", shape: [2, 3], values: [1, -2, 3.5, 0, .greatestFiniteMagnitude, -0.25]),
            OutputTensor(name: "context_hidden", shape: [0, 4], values: []),
            OutputTensor(name: "we\"ird\\name", shape: [1], values: [7]),
        ]
        try OutputWriter.write(tensors, to: path)
        let back = try Fixtures.tensors(path)
        #expect(back.count == 3)
        for t in tensors {
            #expect(back[t.name]?.shape == t.shape)
            #expect(back[t.name]?.values == t.values)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir) == ["out.safetensors"], "no temporary file left")
        // The header is padded to 8 bytes.
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = data.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(n % 8 == 0)
    }

    @Test func replacesAnExistingFileAndReportsUnwritableFolders() throws {
        let dir = TempDir().path
        let path = dir + "/out.safetensors"
        try OutputWriter.write([OutputTensor(name: "a", shape: [1], values: [1])], to: path)
        try OutputWriter.write([OutputTensor(name: "b", shape: [2], values: [2, 3])], to: path)
        #expect(try Fixtures.tensors(path)["b"]?.values == [2, 3])
        #expect(throws: OutputError.folderMissing(path: dir + "/no/such/folder/out.safetensors", folder: dir + "/no/such/folder/")) {
            try OutputWriter.write([OutputTensor(name: "a", shape: [1], values: [1])], to: dir + "/no/such/folder/out.safetensors")
        }
    }
}
