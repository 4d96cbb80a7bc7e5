import Foundation
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// The fixture models of fixtures/models (a folder each: config.json, weights,
/// inputs.safetensors, expected.safetensors, run.json), found relative to this file.
enum Fixtures {
    static let models = fixturePath("models")

    /// The runtime's hostile corpus (fixtures/hostile/runtime, written by its make.py).
    static let hostile = fixturePath("hostile/runtime")

    /// The tolerance of issue 5: max abs error / max abs value.
    static let tolerance = 2e-4

    /// Every fixture folder that has expected outputs, by name.
    static var withExpectedOutputs: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: models)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "\(models)/\($0)/expected.safetensors") }.sorted()
    }

    struct RunSettings {
        var steps: Int
        var cfgScale: Float
    }

    static func settings(_ folder: String) throws -> RunSettings {
        let json = try JSON.parse(String(contentsOfFile: folder + "/run.json", encoding: .utf8))
        return RunSettings(steps: json["steps"]?.intValue ?? 40, cfgScale: Float(json["cfg_scale"]?.doubleValue ?? 1))
    }

    /// Opens a fixture model: its config and a weight source (optionally wrapped).
    static func model(_ name: String, wrap: (WeightSource) -> WeightSource = { $0 }) throws -> LatteModel {
        let checkpoint = try CheckpointReader.open(path: "\(models)/\(name)")
        let config = try ModelConfig.load(path: checkpoint.configPath!)
        return try LatteModel(config: config, weights: wrap(DecodingWeightSource(checkpoint)))
    }

    /// F32 tensors of a safetensors file, by name.
    static func tensors(_ path: String) throws -> [String: (shape: [Int], values: [Float])] {
        let file = try SafetensorsReader.open(path: path)
        var out: [String: (shape: [Int], values: [Float])] = [:]
        for e in file.tensors {
            var v = [Float](repeating: 0, count: e.elementCount)
            let bytes = try file.bytes(of: e)
            try bytes.withUnsafeBytes { raw in
                try v.withUnsafeMutableBufferPointer { dst in
                    try FloatDecoding.decode(raw, dtype: e.dtype, count: e.elementCount, into: dst.baseAddress!, tensor: e.name)
                }
            }
            out[e.name] = (e.shape, v)
        }
        return out
    }

    /// Runs fixture `name` (inputs and expected outputs from `reference`, default the same
    /// folder) and compares every expected output: name -> comparison.
    static func runAndCompare(_ name: String, reference: String? = nil,
                              wrap: (WeightSource) -> WeightSource = { $0 }) throws -> [String: OutputComparison] {
        let ref = "\(models)/\(reference ?? name)"
        let model = try model(name, wrap: wrap)
        let inputs = try RunInputs.load(path: ref + "/inputs.safetensors", config: model.config)
        let s = try settings(ref)
        let (outputs, _) = try LatteRun.execute(model: model, inputs: inputs, steps: s.steps, cfgScale: s.cfgScale)
        let expected = try tensors(ref + "/expected.safetensors")
        var result: [String: OutputComparison] = [:]
        for (key, exp) in expected {
            guard let out = outputs.first(where: { $0.name == key }) else {
                throw FixtureError.missingOutput(key)
            }
            guard out.shape == exp.shape else { throw FixtureError.shapeMismatch(key, out.shape, exp.shape) }
            result[key] = OutputComparison(actual: out.values, expected: exp.values)
        }
        return result
    }

    enum FixtureError: Error {
        case missingOutput(String)
        case shapeMismatch(String, [Int], [Int])
    }
}

/// A weight source that forwards to another and records what was asked of it.
final class RecordingSource: WeightSource {
    let base: WeightSource
    var reads: [String] = []
    var prepared: [Int] = []

    init(_ base: WeightSource) { self.base = base }

    func shape(_ name: String) -> [Int]? { base.shape(name) }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        reads.append(name)
        try base.read(name, into: destination)
    }

    func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        reads.append(name)
        try base.readRows(name, rows: rows, into: destination)
    }

    func prepare(group: Int) throws {
        prepared.append(group)
        try base.prepare(group: group)
    }

    func readScratchBytes(_ name: String) -> Int? { base.readScratchBytes(name) }
    func preparedBytes(group: Int) -> Int? { base.preparedBytes(group: group) }

    /// The replica layers whose tensors were read.
    var replicaLayersRead: Set<Int> {
        Set(reads.compactMap { name -> Int? in
            guard name.hasPrefix("gen.layers.") else { return nil }
            return Int(name.dropFirst("gen.layers.".count).prefix { $0 != "." })
        })
    }
}

/// A weight source that changes tensors: adds `delta` to one element, hides a tensor, or
/// reports a different shape.
final class AlteredSource: WeightSource {
    let base: WeightSource
    var perturb: (name: String, index: Int, delta: Float)?
    var hidden: String?
    var fakeShape: (name: String, shape: [Int])?

    init(_ base: WeightSource) { self.base = base }

    func shape(_ name: String) -> [Int]? {
        if name == hidden { return nil }
        if let f = fakeShape, f.name == name { return f.shape }
        return base.shape(name)
    }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        if name == hidden { throw RuntimeError.missingTensor(name) }
        try base.read(name, into: destination)
        if let p = perturb, p.name == name { destination[p.index] += p.delta }
    }

    func prepare(group: Int) throws { try base.prepare(group: group) }
}

/// Writes an inputs file of `tensors` (name, dtype, shape, bytes) in a fresh folder; returns its path.
func writeInputs(_ tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])]) -> String {
    let path = TempDir().file("inputs.safetensors")
    writeSafetensors(path, tensors.map { SyntheticTensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, bytes: $0.bytes) })
    return path
}

func bytes<T>(_ values: [T]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }

/// A weight source that has every tensor a config needs, at its shape, all zeros: for
/// estimates of models too large to keep as fixtures (the paper's 2B shape).
final class ShapeOnlySource: WeightSource {
    let shapes: [String: [Int]]

    init(_ config: ModelConfig) {
        shapes = Dictionary(uniqueKeysWithValues: Names.all(Dims(config)).map { ($0.0, $0.1) })
    }

    func shape(_ name: String) -> [Int]? { shapes[name] }

    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard shapes[name] != nil else { throw RuntimeError.missingTensor(name) }
        destination.update(repeating: 0)
    }

    func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        destination.update(repeating: 0)
    }
}

/// A LaTtE-Flow config of the given shape (everything else as the spec's tiny model).
func latteConfig(hidden: Int, intermediate: Int, layers: Int, heads: Int, kvHeads: Int, vocab: Int, groups: Int,
                 channels: Int = 4, patch: Int = 2, latent: [Int]) throws -> ModelConfig {
    try ModelConfig(json: .object([
        ("model_type", .string("latte_flow")), ("hidden_size", .int(Int64(hidden))),
        ("intermediate_size", .int(Int64(intermediate))), ("num_hidden_layers", .int(Int64(layers))),
        ("num_attention_heads", .int(Int64(heads))), ("num_key_value_heads", .int(Int64(kvHeads))),
        ("vocab_size", .int(Int64(vocab))), ("num_timestep_groups", .int(Int64(groups))),
        ("latent_channels", .int(Int64(channels))), ("patch_size", .int(Int64(patch))),
        ("latent_size", .array(latent.map { .int(Int64($0)) })), ("time_embed_frequency_dim", .int(256)),
    ]))
}
