import Foundation
import Testing
import LatteCore

/// A folder whose `config.json` belongs to another model (as one real PyPI wheel ships its
/// weights: no `model_type` at all): `convert` writes it as one section, `map` says the
/// config is not a LaTtE-Flow config (docs/CLI.md).
@Suite struct ForeignConfigTests {
    static let configs: [(name: String, text: String)] = [
        ("no model_type", #"{"architectures": ["BertModel"], "hidden_size": 8}"#),
        ("another model_type", #"{"model_type": "bert", "hidden_size": 8}"#),
    ]

    /// The tiny fixture's weights beside `config`, in a fresh folder.
    func folder(config: String) throws -> URL {
        let dir = try CLI.tempDir()
        try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny/model.safetensors"),
                                         toPath: dir.appendingPathComponent("model.safetensors").path)
        try config.write(to: dir.appendingPathComponent("config.json"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test(arguments: 0 ..< configs.count)
    func convertWritesOneSection(_ i: Int) throws {
        let dir = try folder(config: Self.configs[i].text)
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("out.latte").path
        let convert = try CLI.run(["convert", dir.path, "-o", out, "--no-progress"])
        #expect(convert.status == 0, "\(Self.configs[i].name): \(convert.stderr)")
        let report = try JSON.parse(try CLI.run(["inspect", "--json", out]).stdout)
        #expect(report["groups"] == nil)
        let tensors = report["tensors"]?.arrayValue ?? []
        #expect(!tensors.isEmpty && tensors.allSatisfy { $0["group"] == nil })
        // The foreign config is recorded as it is.
        let source = try JSON.parse(try CLI.run(["inspect", "--json", dir.path]).stdout)
        #expect(tensors.count == source["tensors"]?.arrayValue?.count)
    }

    @Test(arguments: 0 ..< configs.count)
    func mapSaysItIsNotALatteFlowConfig(_ i: Int) throws {
        let dir = try folder(config: Self.configs[i].text)
        defer { try? FileManager.default.removeItem(at: dir) }
        let map = try CLI.run(["map", dir.path])
        #expect(map.status == 1)
        let expected = i == 0 ? "it has no 'model_type' (expected 'latte_flow')" : "model_type is 'bert' (expected 'latte_flow')"
        #expect(map.stderr == "error: \(dir.path)/config.json: not a LaTtE-Flow config: \(expected)\n", "\(map.stderr)")
        #expect(map.stdout.isEmpty)
    }
}
