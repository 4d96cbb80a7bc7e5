import Foundation
import Testing
import LatteCore
import LatteTestSupport

@Suite struct InspectCommandTests {
    /// Writes a small safetensors file of `tensors` (every byte 7, metadata `format: pt`) and returns its path.
    func writeSafetensors(in dir: URL, name: String = "model.safetensors", _ tensors: [(String, DType, [Int])]) -> String {
        let path = dir.appendingPathComponent(name).path
        LatteTestSupport.writeSafetensors(path, tensors.map { SyntheticTensor(name: $0.0, dtype: $0.1, shape: $0.2, filledWith: 7) },
                                          metadata: [("format", "pt")])
        return path
    }

    @Test func jsonFollowsTheContractAndTheSchema() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = writeSafetensors(in: dir, [("model.embed_tokens.weight", .bf16, [256, 64]), ("x", .f32, [2])])
        let r = try CLI.run(["inspect", "--json", path])
        #expect(r.status == 0)
        let json = try JSON.parse(r.stdout)
        #expect(json["format"]?.stringValue == "safetensors")
        #expect(json["files"] == .array([.string(path)]))
        #expect(json["metadata"] == .object([("format", .string("pt"))]))
        #expect(json["tensors"]?.arrayValue?.first == .object([
            ("name", .string("model.embed_tokens.weight")), ("dtype", .string("BF16")),
            ("shape", .array([.int(256), .int(64)])), ("nbytes", .int(32768)),
        ]))
        #expect(try CLI.validate(json: r.stdout, schema: "inspect.schema.json") == nil)

        let short = try CLI.run(["inspect", "--json", "--no-tensors", path])
        #expect(short.status == 0)
        #expect(try JSON.parse(short.stdout)["tensors"] == nil)
        #expect(try CLI.validate(json: short.stdout, schema: "inspect.schema.json") == nil)
    }

    @Test func tableShowsTensorsAndTotals() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = writeSafetensors(in: dir, [("a.weight", .f16, [4, 4])])
        let r = try CLI.run(["inspect", path])
        #expect(r.status == 0)
        #expect(r.stdout.contains("a.weight"))
        #expect(r.stdout.contains("[4, 4]"))
        #expect(r.stdout.contains("parameters: 16"))
    }

    @Test func folderWithConfigIsAccepted() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        _ = writeSafetensors(in: dir, [("a", .u8, [3])])
        try "{}".write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        let r = try CLI.run(["inspect", "--json", dir.path])
        #expect(r.status == 0)
        #expect(try JSON.parse(r.stdout)["tensors"]?.arrayValue?.count == 1)
    }

    @Test func badInputGetsOneErrorLineAndExitOne() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.safetensors").path
        #expect(FileManager.default.createFile(atPath: bad, contents: Data([1, 2, 3])))
        let lfs = dir.appendingPathComponent("model.safetensors").path
        #expect(FileManager.default.createFile(atPath: lfs, contents: Data("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n".utf8)))
        for (path, fragment) in [(bad, "shorter than the 8-byte header"), (lfs, "a Git LFS pointer, not the weights"), (dir.path + "/nope", "nope: cannot open: No such file or directory")] {
            let r = try CLI.run(["inspect", path])
            #expect(r.status == 1)
            #expect(r.stdout.isEmpty)
            let lines = r.stderr.split(separator: "\n")
            #expect(lines.count == 1)
            #expect(r.stderr.hasPrefix("error: " + path))
            #expect(r.stderr.contains(fragment), "\(r.stderr)")
        }
    }

    @Test func usageErrorsExit64() throws {
        #expect(try CLI.run(["inspect"]).status == 64)
        #expect(try CLI.run(["inspect", "--bogus", "x"]).status == 64)
    }
}
