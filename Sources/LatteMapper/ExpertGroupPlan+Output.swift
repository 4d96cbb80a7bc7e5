import LatteCore

extension ExpertGroupPlan {
    /// The `map --json` document (docs/CLI.md): `num_layers`, `num_groups`,
    /// `groups`, `residual_attention`, `shared`, `context`, with canonical names; and
    /// `extra` (names as in the checkpoint) only when tensors were kept there.
    public var planJSON: JSONValue {
        var members: [(String, JSONValue)] = [
            ("num_layers", .int(Int64(config.numHiddenLayers))),
            ("num_groups", .int(Int64(config.numTimestepGroups))),
            ("groups", .array(groups.map { g in
                .object([
                    ("index", .int(Int64(g.index))),
                    ("timesteps", .array([.double(g.timestepStart), .double(g.timestepEnd)])),
                    ("layers", .array(g.layers.map { .int(Int64($0)) })),
                ])
            })),
            ("residual_attention", .array(replicaLayers.map { r in
                .object([
                    ("layer", .int(Int64(r.layer))),
                    ("group", .int(Int64(r.group))),
                    ("gate", .string(r.gate)),
                    ("reuses_layer", r.reusesLayer.map { .int(Int64($0)) } ?? .null),
                ])
            })),
            ("shared", .array(shared.map { .string($0.name) })),
            ("context", .array(context.map { .string($0.name) })),
        ]
        if !extra.isEmpty { members.append(("extra", .array(extra.map { .string($0.sourceName) }))) }
        return .object(members)
    }

    /// The layout the format writer follows: a placement for every checkpoint tensor,
    /// keyed by its name in the checkpoint, and `planJSON` for the manifest.
    public var sectionPlan: SectionPlan {
        var placements: [String: TensorPlacement] = [:]
        for t in tensors { placements[t.sourceName] = t.placement }
        return SectionPlan(placements: placements, planJSON: planJSON)
    }

    /// Parameters of one step's active weights: context, shared and one group (groups
    /// have equal sizes; the largest is taken).
    public var activeParameters: Int {
        context.parameters + shared.parameters + (groups.map(\.parameters).max() ?? 0)
    }
}
