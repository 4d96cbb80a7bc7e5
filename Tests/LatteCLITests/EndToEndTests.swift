import Foundation
import Testing
import LatteCore
import LatteReaders
import LatteTestSupport

/// The whole job as users run it: convert a fixture model with its reference outputs
/// embedded, then `latte verify` re-runs the converted model and compares.
@Suite struct EndToEndTests {
    /// Model folder, the folder holding its reference, and a mapping file if it needs one.
    static let models: [(String, String, String?)] = [
        ("tiny", "tiny", nil), ("tiny-bf16", "tiny-bf16", nil), ("tiny-f16", "tiny-f16", nil),
        ("k1", "k1", nil), ("k2", "k2", nil), ("nores", "nores", nil), ("cfg", "cfg", nil),
        ("k2-sharded", "k2", nil), ("k2-bin", "k2", nil), ("k2-legacy", "k2", nil),
        ("qwen2-vl-naming", "k2", "mappings/qwen2-vl-language-model.json"),
    ]

    @Test(arguments: 0 ..< models.count)
    func convertedModelReproducesReferenceOutputs(_ i: Int) throws {
        let (model, reference, mapping) = Self.models[i]
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("\(model).latte").path
        var args = ["convert", CLI.fixture("models/" + model), "-o", out, "--reference", CLI.fixture("models/" + reference), "--no-progress"]
        if let mapping { args += ["--mapping", CLI.fixture(mapping)] }
        let convert = try CLI.run(args)
        #expect(convert.status == 0, "\(convert.stderr)")
        let verify = try CLI.run(["verify", out, "--json"])
        #expect(verify.status == 0, "\(verify.stderr)")
        let report = try JSON.parse(verify.stdout)
        let outputs = report["reference"]?["outputs"]?.arrayValue ?? []
        let names = Set(outputs.compactMap { $0["name"]?.stringValue })
        #expect(names.isSuperset(of: ["sample", "context_hidden"]))
        for o in outputs {
            #expect(o["passed"] == .bool(true), "\(model): \(o.serialized())")
            #expect((o["relative_error"]?.doubleValue ?? 1) <= 2e-4)
        }
        // The file is laid out by the mapper's plan: one section per expert group, and every
        // tensor says its role (and group, for replica tensors), as the inspect schema describes.
        let full = try CLI.run(["inspect", "--json", out]).stdout
        #expect(try CLI.validate(json: full, schema: "inspect.schema.json") == nil)
        let tensors = try JSON.parse(full)["tensors"]?.arrayValue ?? []
        #expect(tensors.allSatisfy { $0["role"] != nil && $0["stored_bytes"] != nil })
        #expect(tensors.filter { $0["name"]?.stringValue?.hasPrefix("gen.layers.") == true }.allSatisfy { $0["group"] != nil })
        let inspect = try JSON.parse(try CLI.run(["inspect", "--json", "--no-tensors", out]).stdout)
        let config = try JSON.parse(String(contentsOfFile: CLI.fixture("models/\(model)/config.json"), encoding: .utf8))
        #expect(inspect["groups"]?.arrayValue?.count == config["num_timestep_groups"]?.intValue ?? 1)
    }

    @Test func aPerturbedWeightFailsVerifyNamingTheOutput() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        for f in ["model.safetensors", "config.json"] {
            try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny/" + f), toPath: src.appendingPathComponent(f).path)
        }
        // Nudge one weight of a replica layer in group 1 (layers 2-3).
        let weights = src.appendingPathComponent("model.safetensors").path
        let offset = try CheckpointReader.open(path: weights).tensor(named: "gen.layers.2.mlp.down_proj.weight")!.storageOffset
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: weights))
        try handle.seek(toOffset: UInt64(offset))
        var value = try handle.read(upToCount: 4)!.withUnsafeBytes { $0.loadUnaligned(as: Float.self) } + 0.5
        try handle.seek(toOffset: UInt64(offset))
        try handle.write(contentsOf: Data(bytes: &value, count: 4))
        try handle.close()

        let out = dir.appendingPathComponent("perturbed.latte").path
        #expect(try CLI.run(["convert", src.path, "-o", out, "--no-progress"]).status == 0)
        let verify = try CLI.run(["verify", out, "--reference", CLI.fixture("models/tiny")])
        #expect(verify.status == 1)
        #expect(verify.stderr.contains("output 'sample' differs from the reference"), "\(verify.stderr)")
        #expect(verify.stdout.contains("FAIL"))
        // context_hidden does not depend on replica weights: it still passes.
        #expect(!verify.stderr.contains("'context_hidden'"))
    }

    @Test func aCheckpointMissingAReplicaTensorIsRefusedAndNothingIsWritten() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // Rewrite tiny without one tensor: the index of a sharded copy names only what remains.
        let src = dir.appendingPathComponent("model")
        try FileManager.default.createDirectory(at: src, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny/config.json"), toPath: src.appendingPathComponent("config.json").path)
        let original = try CheckpointReader.open(path: CLI.fixture("models/tiny"))
        let missing = "gen.layers.5.res_gate.weight"
        let kept = try original.tensors.filter { $0.name != missing }.map { t in
            SyntheticTensor(name: t.name, dtype: t.dtype, shape: t.shape, bytes: try original.bytes(of: t).withUnsafeBytes { Array($0) })
        }
        writeSafetensors(src.appendingPathComponent("model.safetensors").path, kept)

        let out = dir.appendingPathComponent("out.latte").path
        let r = try CLI.run(["convert", src.path, "-o", out, "--no-progress"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(missing), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["model"], "no temporary file left behind")
        let map = try CLI.run(["map", src.path])
        #expect(map.status == 1 && map.stderr.contains(missing))
    }

    @Test func runOnALatteFileWritesTheRunInterfaceOutputs() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let latte = dir.appendingPathComponent("k2.latte").path
        #expect(try CLI.run(["convert", CLI.fixture("models/k2"), "-o", latte, "--no-progress"]).status == 0)
        let out = dir.appendingPathComponent("out.safetensors").path
        let r = try CLI.run(["run", latte, "--inputs", CLI.fixture("models/k2/inputs.safetensors"), "-o", out, "--steps", "10"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("per step"))
        let outputs = try CheckpointReader.open(path: out)
        #expect(outputs.tensors.map(\.name).sorted() == ["context_hidden", "sample", "velocity"])
        #expect(outputs.tensors.allSatisfy { $0.dtype == .f32 })
        // Guidance without an unconditional context is a usage error.
        let usage = try CLI.run(["run", latte, "--inputs", CLI.fixture("models/k2/inputs.safetensors"), "-o", out, "--cfg-scale", "2"])
        #expect(usage.status == 64)
    }
}
