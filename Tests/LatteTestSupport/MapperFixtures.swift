import LatteCore
import LatteMapper

/// A small config as JSON, every field overridable; `remove` drops members.
public func configJSON(_ overrides: [String: JSONValue] = [:], remove: Set<String> = []) -> JSONValue {
    var members: [(String, JSONValue)] = [
        ("model_type", .string("latte_flow")),
        ("hidden_size", .int(8)), ("intermediate_size", .int(16)),
        ("num_hidden_layers", .int(4)), ("num_attention_heads", .int(2)), ("num_key_value_heads", .int(1)),
        ("vocab_size", .int(16)), ("rms_norm_eps", .double(1e-6)), ("rope_theta", .double(10000)),
        ("num_timestep_groups", .int(2)),
        ("latent_channels", .int(2)), ("patch_size", .int(2)), ("latent_size", .array([.int(4), .int(4)])),
        ("time_embed_frequency_dim", .int(8)), ("residual_attention", .bool(true)),
    ]
    for (k, v) in overrides {
        if let i = members.firstIndex(where: { $0.0 == k }) { members[i].1 = v } else { members.append((k, v)) }
    }
    return .object(members.filter { !remove.contains($0.0) })
}

/// A validated config with `L` layers, `K` groups and optional boundaries.
public func makeConfig(L: Int = 4, K: Int = 2, boundaries: [Double]? = nil, residualAttention: Bool = true) throws -> ModelConfig {
    var o: [String: JSONValue] = ["num_hidden_layers": .int(Int64(L)), "num_timestep_groups": .int(Int64(K)),
                                  "residual_attention": .bool(residualAttention)]
    if let boundaries { o["timestep_boundaries"] = .array(boundaries.map { .double($0) }) }
    return try ModelConfig(json: configJSON(o))
}

/// The complete tensor list of `config` (dtype F32), in spec order.
public func completeTensors(_ config: ModelConfig, dtype: DType = .f32) -> [TensorDescriptor] {
    ReferenceTensors.expected(for: config).map { TensorDescriptor(name: $0.name, dtype: dtype, shape: $0.shape) }
}

/// Writes a checkpoint folder: `model.safetensors` (`tensors` in list order, all bytes zero,
/// metadata `format: pt`) and, unless nil, `config.json`. Returns the folder.
public func writeCheckpoint(_ tensors: [TensorDescriptor], config: JSONValue?, in folder: String? = nil) -> String {
    let dir = folder ?? TempDir().path
    let zeros = tensors.map { SyntheticTensor(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
    writeSafetensors(dir + "/model.safetensors", zeros, metadata: [("format", "pt")])
    if let config { writeFile(dir + "/config.json", Array(config.serialized(pretty: true).utf8)) }
    return dir
}

/// The fixture model `name` the reference generator wrote (fixtures/models), if present.
public func fixtureModel(_ name: String) -> String? {
    let path = fixturePath("models/" + name)
    return fileExists(path + "/config.json") ? path : nil
}

/// True when the fixture models are present (they are generated, not always checked out).
public let fixturesPresent = fixtureModel("tiny") != nil
