import LatteCore

/// A replica (timestep-expert) layer: its tensors, its residual-attention gate and the
/// layer whose image-to-image attention logits it reuses.
public struct ReplicaLayerPlan: Sendable, Equatable {
    public var layer: Int
    public var group: Int
    /// Every tensor of `gen.layers.{l}.` except the gate, in the spec's order.
    public var tensors: [PlannedTensor]
    /// `gen.layers.{l}.res_gate.weight` and `.bias`.
    public var gateTensors: [PlannedTensor]
    /// The gate's module name, e.g. `gen.layers.3.res_gate`.
    public var gate: String
    /// The previous layer of the same group when residual attention is on; nil for the
    /// first layer of a group (or with residual attention off): its gate is inactive.
    public var reusesLayer: Int?

    /// True when the gate takes part in inference.
    public var gateIsActive: Bool { reusesLayer != nil }
    /// All of the layer's tensors, gate included.
    public var allTensors: [PlannedTensor] { tensors + gateTensors }
}

/// A frozen VLM decoder layer (`model.layers.{l}.`).
public struct ContextLayerPlan: Sendable, Equatable {
    public var layer: Int
    public var tensors: [PlannedTensor]
}

/// One timestep expert: a timestep interval and the replica layers that serve it.
public struct ExpertGroup: Sendable, Equatable {
    public var index: Int
    /// boundaries[k]: the group serves t with start <= t < end (t <= end for the last group).
    public var timestepStart: Double
    /// boundaries[k+1].
    public var timestepEnd: Double
    /// Layers kM ..< (k+1)M.
    public var layers: [Int]
    public var replicaLayers: [ReplicaLayerPlan]

    /// Every tensor of the group's layers, gates included.
    public var tensors: [PlannedTensor] { replicaLayers.flatMap(\.allTensors) }
    public var parameters: Int { tensors.parameters }
    public var bytes: Int { tensors.bytes }
}

/// The timestep-expert plan of a checkpoint: which replica layers form which expert
/// group, which gates drive residual attention, and where every tensor goes.
///
/// Built from a `ModelConfig` and the checkpoint's tensor list, it checks that the
/// checkpoint is exactly the model the config describes (every tensor present with the
/// implied shape and a floating dtype, nothing else unless `allowExtra`) before anything
/// is written. Every checkpoint tensor lands in exactly one place: a context layer or
/// the context globals, a group's replica layer (or its gate), the shared generation
/// tensors, or the extra section.
public struct ExpertGroupPlan: Sendable {
    public let config: ModelConfig
    /// The naming rules the checkpoint was read with.
    public let mapping: NameMapping
    public let groups: [ExpertGroup]
    /// `model.embed_tokens.weight` and `model.norm.weight`.
    public let contextGlobals: [PlannedTensor]
    public let contextLayers: [ContextLayerPlan]
    /// `time_embed.*`, `patch_embed.*`, `image_head.*`.
    public let shared: [PlannedTensor]
    /// Tensors outside the model, kept on request (`allowExtra`) or by the mapping's `extra`.
    public let extra: [PlannedTensor]

    /// Plans `tensors` (as a reader lists them) against `config`.
    ///
    /// - Parameters:
    ///   - mapping: renames the checkpoint's names onto the spec's (`.canonical` keeps them).
    ///   - allowExtra: keep tensors outside the model in the extra section instead of refusing.
    /// - Throws: `PlanError` naming every missing, misshapen, non-floating, colliding or
    ///   unexpected tensor.
    public init(config: ModelConfig, tensors: [TensorDescriptor], mapping: NameMapping = .canonical,
                allowExtra: Bool = false) throws(PlanError) {
        self.config = config
        self.mapping = mapping
        var names = CanonicalNames(tensors, mapping: mapping)
        let placed = names.placeExpected(config: config)
        let extra = names.leftovers(config: config, allowExtra: allowExtra)
        if names.problems.count == 1 { throw names.problems[0] }
        if names.problems.count > 1 { throw .several(names.problems) }

        groups = Self.groups(config: config, placed: placed)
        contextGlobals = placed[.contextGlobal] ?? []
        contextLayers = (0 ..< config.numHiddenLayers).map { ContextLayerPlan(layer: $0, tensors: placed[.contextLayer($0)] ?? []) }
        shared = placed[.shared] ?? []
        self.extra = extra
    }

    /// The expert groups of `config`, from the replica tensors and gates placed.
    private static func groups(config: ModelConfig, placed: [TensorKind: [PlannedTensor]]) -> [ExpertGroup] {
        let M = config.layersPerGroup, b = config.timestepBoundaries
        return (0 ..< config.numTimestepGroups).map { k in
            let layers = Array(k * M ..< (k + 1) * M)
            let replicas = layers.map { l in
                ReplicaLayerPlan(layer: l, group: k, tensors: placed[.replica(l)] ?? [], gateTensors: placed[.resGate(l)] ?? [],
                                 gate: ReferenceTensors.gateModule(layer: l),
                                 reusesLayer: config.residualAttention && l > k * M ? l - 1 : nil)
            }
            return ExpertGroup(index: k, timestepStart: b[k], timestepEnd: b[k + 1], layers: layers, replicaLayers: replicas)
        }
    }

    /// Plans an opened checkpoint's tensors.
    public init(config: ModelConfig, checkpoint: Checkpoint, mapping: NameMapping = .canonical,
                allowExtra: Bool = false) throws(PlanError) {
        try self.init(config: config, tensors: checkpoint.tensors.map(TensorDescriptor.init), mapping: mapping, allowExtra: allowExtra)
    }

    fileprivate static func extraTensor(_ t: TensorDescriptor) -> PlannedTensor {
        PlannedTensor(name: t.name, sourceName: t.name, dtype: t.dtype, shape: t.shape, kind: nil,
                      placement: TensorPlacement(section: .extra, role: .extra))
    }

    // MARK: - Views

    /// Every replica layer, in layer order.
    public var replicaLayers: [ReplicaLayerPlan] { groups.flatMap(\.replicaLayers) }

    /// The context (frozen VLM) tensors in spec order: embedding, layers 0..L-1, final norm.
    public var context: [PlannedTensor] {
        let embed = contextGlobals.filter { $0.name == "model.embed_tokens.weight" }
        let rest = contextGlobals.filter { $0.name != "model.embed_tokens.weight" }
        return embed + contextLayers.flatMap(\.tensors) + rest
    }

    /// Every planned tensor exactly once: context, groups in order, shared, extra.
    public var tensors: [PlannedTensor] { context + groups.flatMap(\.tensors) + shared + extra }

    /// The expert group of timestep `t` (the config's rule: exact boundaries go to the later group).
    public func group(ofTimestep t: Double) -> Int { config.group(ofTimestep: t) }

    /// The planned tensor with canonical name `name`.
    public func tensor(named name: String) -> PlannedTensor? { tensors.first { $0.name == name } }

    /// The placement of the checkpoint tensor called `source`.
    public func placement(ofSource source: String) -> TensorPlacement? { tensors.first { $0.sourceName == source }?.placement }
}

/// The planning steps over a checkpoint's names, collecting every problem found: canonical
/// names, then each expected tensor placed, then what is left.
private struct CanonicalNames {
    let mapping: NameMapping
    var problems: [PlanError] = []
    /// The checkpoint's tensors by canonical name, with their source names.
    var byCanonical: [String: (source: String, tensor: TensorDescriptor)] = [:]
    /// The mapping's declared extras, aside and unrenamed.
    var declaredExtra: [TensorDescriptor] = []
    /// Canonical names in checkpoint order, for the leftovers.
    var order: [String] = []
    /// Canonical names an expected tensor took.
    var used = Set<String>()

    /// 1. Canonical names; two tensors with one name (as read, or once renamed) are a collision.
    init(_ tensors: [TensorDescriptor], mapping: NameMapping) {
        self.mapping = mapping
        var bySource: [String: TensorDescriptor] = [:]
        for t in tensors {
            if let earlier = bySource[t.name] {
                problems.append(.nameCollision(canonical: mapping.canonicalName(of: t.name), sources: [earlier.name, t.name]))
                continue
            }
            bySource[t.name] = t
            if mapping.isDeclaredExtra(t.name) {
                declaredExtra.append(t)
                continue
            }
            let canonical = mapping.canonicalName(of: t.name)
            if let other = byCanonical[canonical] {
                problems.append(.nameCollision(canonical: canonical, sources: [other.source, t.name]))
                continue
            }
            byCanonical[canonical] = (t.name, t)
            order.append(canonical)
        }
    }

    /// 2. Every expected tensor, with its shape and a floating dtype, placed by its kind.
    mutating func placeExpected(config: ModelConfig) -> [TensorKind: [PlannedTensor]] {
        var missing: [PlanError.Missing] = []
        var placed: [TensorKind: [PlannedTensor]] = [:]
        for e in ReferenceTensors.expected(for: config) {
            guard let (source, t) = byCanonical[e.name] else {
                missing.append(.init(name: e.name, expectedShape: e.shape))
                continue
            }
            used.insert(e.name)
            let canonical = source == e.name ? nil : e.name
            if t.shape != e.shape {
                problems.append(.wrongShape(tensor: source, canonical: canonical, expected: e.shape, found: t.shape))
            }
            if !PlanError.allowedDTypes.contains(t.dtype) {
                problems.append(.wrongDType(tensor: source, canonical: canonical, found: t.dtype))
            }
            placed[e.kind, default: []].append(PlannedTensor(name: e.name, sourceName: source, dtype: t.dtype, shape: t.shape,
                                                               kind: e.kind, placement: Self.placement(e.kind, config: config, canonicalName: canonical)))
        }
        if !missing.isEmpty { problems.insert(.missing(missing), at: 0) }
        return placed
    }

    /// Where a tensor of `kind` goes and what it is for.
    static func placement(_ kind: TensorKind, config: ModelConfig, canonicalName: String?) -> TensorPlacement {
        let groupOfLayer = { (l: Int) in l / config.layersPerGroup }
        return switch kind {
        case .contextGlobal: TensorPlacement(section: .shared, role: .context, canonicalName: canonicalName)
        case let .contextLayer(l): TensorPlacement(section: .shared, role: .context, layer: l, canonicalName: canonicalName)
        case let .replica(l): TensorPlacement(section: .group(groupOfLayer(l)), role: .replica, layer: l, canonicalName: canonicalName)
        case let .resGate(l): TensorPlacement(section: .group(groupOfLayer(l)), role: .resGate, layer: l, canonicalName: canonicalName)
        case .shared: TensorPlacement(section: .shared, role: .shared, canonicalName: canonicalName)
        }
    }

    /// 3. What is left: extra when allowed (with the declared extras), otherwise a problem listing it.
    mutating func leftovers(config: ModelConfig, allowExtra: Bool) -> [PlannedTensor] {
        var extra = declaredExtra.map(ExpertGroupPlan.extraTensor)
        var unexpected: [PlanError.Unexpected] = []
        for canonical in order where !used.contains(canonical) {
            let (source, t) = byCanonical[canonical]!
            if allowExtra {
                extra.append(ExpertGroupPlan.extraTensor(t))
            } else {
                var hint: String?
                if let l = ReferenceTensors.layerIndex(inCanonicalName: canonical), l >= config.numHiddenLayers {
                    hint = "layer \(l) is beyond num_hidden_layers \(config.numHiddenLayers)"
                }
                unexpected.append(.init(source: source, canonical: canonical == source ? nil : canonical, hint: hint))
            }
        }
        if !unexpected.isEmpty { problems.append(.unexpected(unexpected)) }
        return extra
    }
}
