import LatteCore

/// What a tensor of the reference model is for: the mapper's classification of a
/// canonical name (docs/MODEL.md, "Tensors").
public enum TensorKind: Sendable, Equatable, Hashable {
    /// `model.embed_tokens.weight`, `model.norm.weight`: the frozen VLM outside its layers.
    case contextGlobal
    /// `model.layers.{l}.*`: a frozen VLM decoder layer.
    case contextLayer(Int)
    /// `gen.layers.{l}.*` except the gate: a replica (timestep-expert) layer.
    case replica(Int)
    /// `gen.layers.{l}.res_gate.*`: the layer's timestep-conditioned residual-attention gate.
    case resGate(Int)
    /// `time_embed.*`, `patch_embed.*`, `image_head.*`: generation tensors every step needs.
    case shared

    /// The decoder layer, for the per-layer kinds.
    public var layer: Int? {
        switch self {
        case let .contextLayer(l), let .replica(l), let .resGate(l): l
        case .contextGlobal, .shared: nil
        }
    }
}

/// One tensor the config says the checkpoint must hold.
public struct ExpectedTensor: Sendable, Equatable {
    /// The canonical (spec) name.
    public var name: String
    public var shape: [Int]
    public var kind: TensorKind
}

/// The reference model's tensor list as data: names with a `{l}` layer placeholder and
/// the shape each takes from the config. The single source of the spec's table.
public enum ReferenceTensors {
    /// The layer placeholder used in patterns here and in mapping files.
    public static let layerPlaceholder = "{l}"
    /// Prefix of a frozen VLM decoder layer's tensors.
    public static let contextLayerPrefix = "model.layers.{l}."
    /// Prefix of a replica layer's tensors.
    public static let replicaLayerPrefix = "gen.layers.{l}."
    /// The gate's module name inside a replica layer (`gen.layers.{l}.res_gate`).
    public static let resGateModule = "res_gate"

    typealias ShapeRule = @Sendable (ModelConfig) -> [Int]

    /// A Qwen2 decoder layer, in the spec's order (context and replica layers alike).
    static let decoderLayer: [(suffix: String, shape: ShapeRule)] = [
        ("input_layernorm.weight", { [$0.hiddenSize] }),
        ("self_attn.q_proj.weight", { [$0.numAttentionHeads * $0.headDim, $0.hiddenSize] }),
        ("self_attn.q_proj.bias", { [$0.numAttentionHeads * $0.headDim] }),
        ("self_attn.k_proj.weight", { [$0.numKeyValueHeads * $0.headDim, $0.hiddenSize] }),
        ("self_attn.k_proj.bias", { [$0.numKeyValueHeads * $0.headDim] }),
        ("self_attn.v_proj.weight", { [$0.numKeyValueHeads * $0.headDim, $0.hiddenSize] }),
        ("self_attn.v_proj.bias", { [$0.numKeyValueHeads * $0.headDim] }),
        ("self_attn.o_proj.weight", { [$0.hiddenSize, $0.numAttentionHeads * $0.headDim] }),
        ("post_attention_layernorm.weight", { [$0.hiddenSize] }),
        ("mlp.gate_proj.weight", { [$0.intermediateSize, $0.hiddenSize] }),
        ("mlp.up_proj.weight", { [$0.intermediateSize, $0.hiddenSize] }),
        ("mlp.down_proj.weight", { [$0.hiddenSize, $0.intermediateSize] }),
    ]

    /// What a replica layer has beyond the decoder layer's tensors (the gate apart).
    static let replicaExtra: [(suffix: String, shape: ShapeRule)] = [
        ("attn_out_norm.weight", { [$0.hiddenSize] }),
        ("mlp_out_norm.weight", { [$0.hiddenSize] }),
        ("modulation.weight", { [4 * $0.hiddenSize, $0.hiddenSize] }),
        ("modulation.bias", { [4 * $0.hiddenSize] }),
    ]

    /// The head-wise residual-attention gate of a replica layer.
    static let resGate: [(suffix: String, shape: ShapeRule)] = [
        ("res_gate.weight", { [$0.numAttentionHeads, $0.hiddenSize] }),
        ("res_gate.bias", { [$0.numAttentionHeads] }),
    ]

    static let contextBefore: [(name: String, shape: ShapeRule)] = [
        ("model.embed_tokens.weight", { [$0.vocabSize, $0.hiddenSize] }),
    ]
    static let contextAfter: [(name: String, shape: ShapeRule)] = [
        ("model.norm.weight", { [$0.hiddenSize] }),
    ]

    /// The shared generation tensors, in the spec's order.
    static let sharedGeneration: [(name: String, shape: ShapeRule)] = [
        ("time_embed.linear_1.weight", { [$0.hiddenSize, $0.timeEmbedFrequencyDim] }),
        ("time_embed.linear_1.bias", { [$0.hiddenSize] }),
        ("time_embed.linear_2.weight", { [$0.hiddenSize, $0.hiddenSize] }),
        ("time_embed.linear_2.bias", { [$0.hiddenSize] }),
        ("patch_embed.proj.weight", { [$0.hiddenSize, $0.latentChannels, $0.patchSize, $0.patchSize] }),
        ("patch_embed.proj.bias", { [$0.hiddenSize] }),
        ("image_head.norm.weight", { [$0.hiddenSize] }),
        ("image_head.modulation.weight", { [2 * $0.hiddenSize, $0.hiddenSize] }),
        ("image_head.modulation.bias", { [2 * $0.hiddenSize] }),
        ("image_head.proj.weight", { [$0.latentChannels * $0.patchSize * $0.patchSize, $0.hiddenSize] }),
        ("image_head.proj.bias", { [$0.latentChannels * $0.patchSize * $0.patchSize] }),
    ]

    /// `pattern` with the layer placeholder replaced by `layer`.
    public static func name(_ pattern: String, layer: Int) -> String {
        pattern.replacing(layerPlaceholder, with: String(layer), maxReplacements: 1)
    }

    /// The canonical name of a replica layer's gate module, e.g. `gen.layers.3.res_gate`.
    public static func gateModule(layer: Int) -> String { name(replicaLayerPrefix, layer: layer) + resGateModule }

    /// Every tensor `config` implies, in the spec's order: context (embedding, layers
    /// 0..L-1, final norm), replica layers 0..L-1 (gate last in each), shared generation.
    /// `config` must have passed `validate()`, whose bounds keep every product in range.
    public static func expected(for config: ModelConfig) -> [ExpectedTensor] {
        let L = config.numHiddenLayers
        var out: [ExpectedTensor] = []
        out.reserveCapacity(2 + L * (decoderLayer.count * 2 + replicaExtra.count + resGate.count) + sharedGeneration.count)
        for t in contextBefore { out.append(ExpectedTensor(name: t.name, shape: t.shape(config), kind: .contextGlobal)) }
        for l in 0 ..< L {
            let prefix = name(contextLayerPrefix, layer: l)
            for t in decoderLayer { out.append(ExpectedTensor(name: prefix + t.suffix, shape: t.shape(config), kind: .contextLayer(l))) }
        }
        for t in contextAfter { out.append(ExpectedTensor(name: t.name, shape: t.shape(config), kind: .contextGlobal)) }
        for l in 0 ..< L {
            let prefix = name(replicaLayerPrefix, layer: l)
            for t in decoderLayer + replicaExtra { out.append(ExpectedTensor(name: prefix + t.suffix, shape: t.shape(config), kind: .replica(l))) }
            for t in resGate { out.append(ExpectedTensor(name: prefix + t.suffix, shape: t.shape(config), kind: .resGate(l))) }
        }
        for t in sharedGeneration { out.append(ExpectedTensor(name: t.name, shape: t.shape(config), kind: .shared)) }
        return out
    }

    /// The layer a canonical per-layer name refers to (`model.layers.N.…`, `gen.layers.N.…`),
    /// even one beyond the config's layers: used to explain why a tensor is unexpected.
    public static func layerIndex(inCanonicalName name: String) -> Int? {
        for pattern in [contextLayerPrefix, replicaLayerPrefix] {
            if let m = LayerPattern(pattern)?.matchPrefix(of: name) { return m.layer }
        }
        return nil
    }
}
