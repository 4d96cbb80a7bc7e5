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

    /// The human-readable plan: one row per group (timesteps, layers, parameters, bytes)
    /// and the totals of the shared, context and extra tensors.
    public func table() -> String {
        let M = config.layersPerGroup
        var out = "\(config.numHiddenLayers) replica layers in \(config.numTimestepGroups) timestep-expert group"
            + (config.numTimestepGroups == 1 ? "" : "s") + " of \(M); residual attention "
            + (config.residualAttention ? "on (the first layer of each group reuses nothing)" : "off") + "\n\n"
        var rows: [[String]] = [["group", "timesteps", "layers", "parameters", "bytes", "size"]]
        for g in groups {
            let last = g.index == groups.count - 1
            let interval = "[\(number(g.timestepStart)), \(number(g.timestepEnd))\(last ? "]" : ")")"
            let layers = g.layers.count == 1 ? "\(g.layers[0])" : "\(g.layers.first!)-\(g.layers.last!)"
            rows.append([String(g.index), interval, layers, String(g.parameters), String(g.bytes), formatBytes(g.bytes)])
        }
        func total(_ label: String, _ ts: [PlannedTensor]) {
            rows.append([label, "", "", String(ts.parameters), String(ts.bytes), formatBytes(ts.bytes)])
        }
        total("shared", shared)
        total("context", context)
        if !extra.isEmpty { total("extra", extra) }
        total("total", tensors)
        out += renderTable(rows, rightAligned: [3, 4, 5])
        out += "\nactive per step (context + shared + one group): \(activeParameters) parameters\n"
        if !extra.isEmpty { out += "extra tensors kept: \(extra.map(\.sourceName).joined(separator: ", "))\n" }
        return out
    }

    /// A boundary as JSON prints it (`0.0`, `0.25`).
    private func number(_ x: Double) -> String { JSONValue.double(x).serialized() }
}
