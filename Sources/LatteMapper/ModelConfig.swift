import LatteCore

/// A LaTtE-Flow model's `config.json`, fields as in docs/MODEL.md,
/// checked for consistency when read.
public struct ModelConfig: Sendable, Equatable {
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var vocabSize: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var numTimestepGroups: Int
    /// K+1 increasing values from 0 to 1 (uniform k/K when the file has none).
    public var timestepBoundaries: [Double]
    public var latentChannels: Int
    public var patchSize: Int
    /// [h, w]
    public var latentSize: [Int]
    public var timeEmbedFrequencyDim: Int
    public var residualAttention: Bool

    /// Largest width, head count, channel count or latent side a config may declare.
    public static let maxDimension = 1 << 20
    /// Largest vocabulary a config may declare.
    public static let maxVocabulary = 1 << 24
    /// Largest number of layers (and groups) a config may declare.
    public static let maxLayers = 1 << 12
    /// Largest patch size a config may declare.
    public static let maxPatch = 1 << 8

    public var headDim: Int { hiddenSize / numAttentionHeads }
    /// M = L / K, the layers of one expert group.
    public var layersPerGroup: Int { numHiddenLayers / numTimestepGroups }
    /// N, image tokens per latent.
    public var imageTokens: Int { (latentSize[0] / patchSize) * (latentSize[1] / patchSize) }

    /// Reads and checks `path`.
    public static func load(path: String) throws -> ModelConfig {
        try ModelConfig(file: ConfigFile(path: path))
    }

    /// Checks a config file already read; errors name the file.
    public init(file: ConfigFile) throws {
        do { try self.init(json: file.json) } catch { throw LocatedError(path: file.path, error) }
    }

    /// True when `json` says it is a LaTtE-Flow config (`model_type` "latte_flow"). Any other
    /// config, with another `model_type` or none, belongs to another model.
    public static func isLatteFlow(_ json: JSONValue) -> Bool {
        json["model_type"]?.stringValue == "latte_flow"
    }

    /// Builds a config from its JSON object, checking every field and every relation.
    public init(json: JSONValue) throws(ModelConfigError) {
        guard json.objectValue != nil else { throw .notObject }
        guard ModelConfig.isLatteFlow(json) else {
            throw .notLatteFlow(modelType: json["model_type"].map { $0.stringValue ?? $0.serialized() })
        }
        func int(_ k: String) throws(ModelConfigError) -> Int {
            guard let v = json[k] else { throw .missing(k) }
            guard let i = v.intValue, i > 0 else { throw .badValue(k, "must be a positive integer, found \(v.serialized())") }
            return i
        }
        func double(_ k: String, default d: Double? = nil) throws(ModelConfigError) -> Double {
            guard let v = json[k] else {
                if let d { return d }
                throw .missing(k)
            }
            guard let x = v.doubleValue, x.isFinite, x > 0 else { throw .badValue(k, "must be a positive number, found \(v.serialized())") }
            return x
        }
        hiddenSize = try int("hidden_size")
        intermediateSize = try int("intermediate_size")
        numHiddenLayers = try int("num_hidden_layers")
        numAttentionHeads = try int("num_attention_heads")
        numKeyValueHeads = try int("num_key_value_heads")
        vocabSize = try int("vocab_size")
        // Defaults as the reference implementation (fixtures/reference/latte_flow.py) fills them.
        rmsNormEps = try double("rms_norm_eps", default: 1e-6)
        ropeTheta = try double("rope_theta", default: 10000)
        numTimestepGroups = json["num_timestep_groups"] == nil ? 1 : try int("num_timestep_groups")
        latentChannels = try int("latent_channels")
        patchSize = try int("patch_size")
        timeEmbedFrequencyDim = try int("time_embed_frequency_dim")
        if let ra = json["residual_attention"] {
            guard let raBool = ra.boolValue else { throw .badValue("residual_attention", "must be true or false, found \(ra.serialized())") }
            residualAttention = raBool
        } else {
            residualAttention = true
        }
        guard let ls = json["latent_size"] else { throw .missing("latent_size") }
        guard let lsa = ls.arrayValue, lsa.count == 2, let h = lsa[0].intValue, let w = lsa[1].intValue, h > 0, w > 0 else {
            throw .badValue("latent_size", "must be [h, w] of positive integers, found \(ls.serialized())")
        }
        latentSize = [h, w]
        let k = numTimestepGroups
        if let b = json["timestep_boundaries"], b != .null {
            guard let arr = b.arrayValue, arr.allSatisfy({ $0.doubleValue != nil }) else {
                throw .badValue("timestep_boundaries", "must be an array of numbers, found \(b.serialized())")
            }
            timestepBoundaries = arr.map { $0.doubleValue! }
        } else {
            timestepBoundaries = (0 ... k).map { Double($0) / Double(k) }
        }
        try validate()
    }

    /// The relations between fields that the model needs.
    public func validate() throws(ModelConfigError) {
        // Bounds that keep every shape and parameter count far from Int overflow and every
        // list the mapper builds (one entry per layer and tensor) small, whatever the file says.
        let limits: [(String, Int, Int)] = [
            ("hidden_size", hiddenSize, Self.maxDimension), ("intermediate_size", intermediateSize, Self.maxDimension),
            ("num_attention_heads", numAttentionHeads, Self.maxDimension), ("num_key_value_heads", numKeyValueHeads, Self.maxDimension),
            ("vocab_size", vocabSize, Self.maxVocabulary), ("num_hidden_layers", numHiddenLayers, Self.maxLayers),
            ("num_timestep_groups", numTimestepGroups, Self.maxLayers), ("latent_channels", latentChannels, Self.maxDimension),
            ("patch_size", patchSize, Self.maxPatch), ("time_embed_frequency_dim", timeEmbedFrequencyDim, Self.maxDimension),
            ("latent_size", latentSize.max() ?? 0, Self.maxDimension),
        ]
        for (name, value, limit) in limits where value > limit {
            throw .badValue(name, "is \(value), above the supported maximum \(limit)")
        }
        if numHiddenLayers % numTimestepGroups != 0 {
            throw .groupsDoNotDivideLayers(layers: numHiddenLayers, groups: numTimestepGroups)
        }
        if hiddenSize % numAttentionHeads != 0 { throw .headsDoNotDivideHidden(hidden: hiddenSize, heads: numAttentionHeads) }
        if numAttentionHeads % numKeyValueHeads != 0 { throw .kvHeadsDoNotDivideHeads(heads: numAttentionHeads, kvHeads: numKeyValueHeads) }
        if headDim % 2 != 0 { throw .oddHeadDim(headDim) }
        if timeEmbedFrequencyDim % 2 != 0 { throw .badValue("time_embed_frequency_dim", "must be even, found \(timeEmbedFrequencyDim)") }
        for s in latentSize where s % patchSize != 0 { throw .patchDoesNotDivideLatent(patch: patchSize, latent: latentSize) }
        let b = timestepBoundaries
        guard b.count == numTimestepGroups + 1, b.first == 0, b.last == 1,
              zip(b, b.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw .badBoundaries(b, groups: numTimestepGroups)
        }
    }

    /// The config as a JSON object with the spec's field names.
    public var json: JSONValue {
        .object([
            ("model_type", .string("latte_flow")),
            ("hidden_size", .int(Int64(hiddenSize))), ("intermediate_size", .int(Int64(intermediateSize))),
            ("num_hidden_layers", .int(Int64(numHiddenLayers))), ("num_attention_heads", .int(Int64(numAttentionHeads))),
            ("num_key_value_heads", .int(Int64(numKeyValueHeads))), ("vocab_size", .int(Int64(vocabSize))),
            ("rms_norm_eps", .double(rmsNormEps)), ("rope_theta", .double(ropeTheta)),
            ("num_timestep_groups", .int(Int64(numTimestepGroups))),
            ("timestep_boundaries", .array(timestepBoundaries.map { .double($0) })),
            ("latent_channels", .int(Int64(latentChannels))), ("patch_size", .int(Int64(patchSize))),
            ("latent_size", .array(latentSize.map { .int(Int64($0)) })),
            ("time_embed_frequency_dim", .int(Int64(timeEmbedFrequencyDim))),
            ("residual_attention", .bool(residualAttention)),
        ])
    }

    /// The expert group of timestep `t`: the largest k with boundaries[k] <= t, capped at
    /// K-1, compared in float64 so a step exactly on a boundary belongs to the later group.
    public func group(ofTimestep t: Double) -> Int {
        var k = 0
        for i in 0 ..< numTimestepGroups where timestepBoundaries[i] <= t { k = i }
        return k
    }
}

/// What is wrong with a model config.
public enum ModelConfigError: Error, Equatable, CustomStringConvertible {
    case notObject
    case missing(String)
    case badValue(String, String)
    /// Another model's config: its `model_type`, nil when it has none.
    case notLatteFlow(modelType: String?)
    case groupsDoNotDivideLayers(layers: Int, groups: Int)
    case headsDoNotDivideHidden(hidden: Int, heads: Int)
    case kvHeadsDoNotDivideHeads(heads: Int, kvHeads: Int)
    case oddHeadDim(Int)
    case patchDoesNotDivideLatent(patch: Int, latent: [Int])
    case badBoundaries([Double], groups: Int)

    public var description: String {
        switch self {
        case .notObject: "config must be a JSON object"
        case let .missing(k): "config has no '\(k)'"
        case let .badValue(k, why): "config '\(k)' \(why)"
        case .notLatteFlow(nil): "not a LaTtE-Flow config: it has no 'model_type' (expected 'latte_flow')"
        case let .notLatteFlow(t?): "not a LaTtE-Flow config: model_type is '\(t)' (expected 'latte_flow')"
        case let .groupsDoNotDivideLayers(l, k): "num_timestep_groups \(k) does not divide num_hidden_layers \(l)"
        case let .headsDoNotDivideHidden(d, h): "num_attention_heads \(h) does not divide hidden_size \(d)"
        case let .kvHeadsDoNotDivideHeads(h, kv): "num_key_value_heads \(kv) does not divide num_attention_heads \(h)"
        case let .oddHeadDim(hd): "head_dim \(hd) must be even for RoPE"
        case let .patchDoesNotDivideLatent(p, ls): "patch_size \(p) does not divide latent_size \(ls)"
        case let .badBoundaries(b, k): "timestep_boundaries \(b) must be \(k + 1) increasing values from 0 to 1"
        }
    }
}
