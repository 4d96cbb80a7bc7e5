/// What a tensor is for in a LaTtE-Flow model; the raw values are what a `.latte`
/// manifest's `role` records.
public enum TensorRole: String, Sendable, CaseIterable {
    /// The frozen VLM: its embedding, decoder layers and final norm.
    case context
    /// Generation tensors every step needs (time and patch embeddings, image head).
    case shared
    /// A timestep-expert group's replica layer.
    case replica
    /// A replica layer's residual-attention gate.
    case resGate = "res_gate"
    /// A tensor outside the model, kept on request.
    case extra
}

/// Where a tensor goes in a `.latte` file and what it is for: the mapper's answer, the
/// format writer's input. Kept here so the format does not depend on the mapper.
public struct TensorPlacement: Sendable, Equatable, Hashable {
    /// The section a tensor is stored in.
    public enum Section: Sendable, Equatable, Hashable {
        /// Context (frozen VLM) and shared generation tensors: needed at every step.
        case shared
        /// One timestep-expert group's replica layers.
        case group(Int)
        /// Tensors the mapper did not recognize, kept on request (`--allow-extra`).
        case extra
    }

    public var section: Section
    /// What the tensor is for.
    public var role: TensorRole
    /// The decoder layer it belongs to, if any.
    public var layer: Int?
    /// The tensor's canonical (spec) name when the checkpoint spells it otherwise (a
    /// checkpoint renamed through a mapping file); nil when the names agree. Placements are
    /// keyed by the checkpoint's (source) name; a writer stores the tensor under
    /// `canonicalName ?? source name` so the runtime finds it by the spec's name.
    public var canonicalName: String?

    public init(section: Section, role: TensorRole, layer: Int? = nil, canonicalName: String? = nil) {
        self.section = section
        self.role = role
        self.layer = layer
        self.canonicalName = canonicalName
    }

    public var group: Int? { if case let .group(g) = section { g } else { nil } }
}

/// A layout for a `.latte` file: a placement for every tensor, and the plan's JSON (the
/// `map --json` document), which the writer records in the manifest as is.
public struct SectionPlan: Sendable {
    /// Keyed by the tensor's name in the source checkpoint.
    public var placements: [String: TensorPlacement]
    public var planJSON: JSONValue

    public init(placements: [String: TensorPlacement], planJSON: JSONValue) {
        self.placements = placements
        self.planJSON = planJSON
    }
}
