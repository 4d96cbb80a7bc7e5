import LatteCore
import LatteMapper

extension ExpertGroupPlan {
    /// The human-readable plan: one row per group (timesteps, layers, parameters, bytes)
    /// and the totals of the shared, context and extra tensors.
    func table() -> String {
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
