import LatteCore

extension InspectReport {
    /// The human-readable table and totals.
    func table(includeTensors: Bool = true) -> String {
        var out = "format: \(format.rawValue)\n"
        for f in files { out += "file:   \(f)\n" }
        if includeTensors && !tensors.isEmpty {
            let hasStored = tensors.contains { $0.storedBytes != nil }
            let hasGroup = tensors.contains { $0.role != nil }
            // A column saying how a tensor is coded, when some is not plain: "base" (stored in
            // the base checkpoint) or "delta k/n" (k of its n chunks are twin deltas).
            let hasCoding = tensors.contains { $0.base != nil || ($0.deltaChunks ?? 0) > 0 }
            var rows: [[String]] = [["name", "dtype", "shape", "size"] + (hasStored ? ["stored", "ratio"] : []) + (hasGroup ? ["group", "role"] : [])
                                    + (hasCoding ? ["coded"] : [])]
            for t in tensors {
                var r = [t.name, t.dtype.name, "[" + t.shape.map(String.init).joined(separator: ", ") + "]", formatBytes(t.nbytes)]
                if hasStored {
                    r.append(t.storedBytes.map(formatBytes) ?? "-")
                    r.append(t.storedBytes.map { t.nbytes == 0 ? "-" : formatRatio(Double($0) / Double(t.nbytes)) } ?? "-")
                }
                if hasGroup { r += [t.group.map(String.init) ?? "-", t.role ?? "-"] }
                if hasCoding { r.append(t.base != nil ? "base" : (t.deltaChunks ?? 0) > 0 ? "delta \(t.deltaChunks!)" : "-") }
                rows.append(r)
            }
            out += "\n" + renderTable(rows, rightAligned: Set([3, 4, 5]))
        }
        out += "\ntensors:    \(tensors.count)\n"
        out += "parameters: \(totalParameters)\n"
        out += "bytes:      \(totalBytes) (\(formatBytes(totalBytes)))\n"
        let stored = tensors.contains { $0.storedBytes != nil }
        for (d, n) in bytesPerDType {
            out += "  \(d.name.padding(8)) \(formatBytes(n))"
            if stored {
                let s = tensors.filter { $0.dtype == d }.reduce(0) { $0 + ($1.storedBytes ?? $1.nbytes) }
                out += " stored \(formatBytes(s)) (ratio \(n == 0 ? "-" : formatRatio(Double(s) / Double(n))))"
            }
            out += "\n"
        }
        if stored {
            let s = tensors.reduce(0) { $0 + ($1.storedBytes ?? $1.nbytes) }
            out += "stored:     \(s) (\(formatBytes(s)), ratio \(totalBytes == 0 ? "-" : formatRatio(Double(s) / Double(totalBytes))))\n"
            // Per expert group (tensors outside any group are counted under "shared").
            var groups: [Int: (Int, Int)] = [:]
            for t in tensors { let k = t.group ?? -1; groups[k, default: (0, 0)].0 += t.nbytes; groups[k, default: (0, 0)].1 += t.storedBytes ?? t.nbytes }
            if groups.keys.contains(where: { $0 >= 0 }) {
                for k in groups.keys.sorted() {
                    let (n, s) = groups[k]!
                    out += "  \((k < 0 ? "shared" : "group \(k)").padding(8)) \(formatBytes(n)) stored \(formatBytes(s)) (ratio \(n == 0 ? "-" : formatRatio(Double(s) / Double(n))))\n"
                }
            }
        }
        if let base = extra.first(where: { $0.0 == "base" })?.1 {
            let n = base["tensors"]?.intValue ?? 0, bytes = base["bytes"]?.intValue ?? 0
            out += "base:       \(n) tensors (\(formatBytes(bytes))) stored in the base"
            if let checked = extra.first(where: { $0.0 == "base_checked" })?.1.intValue { out += ", \(checked) checked against --base" }
            out += "\n"
            for f in base["files"]?.arrayValue ?? [] {
                out += "  \(escapingControlCharacters(f["name"]?.stringValue ?? "?")) (\(f["size"]?.intValue ?? 0) bytes, sha256 \(f["sha256"]?.stringValue ?? "?"))\n"
            }
        }
        if !metadata.isEmpty {
            out += "metadata:\n"
            for k in metadata.keys.sorted() { out += "  \(escapingControlCharacters(k)) = \(escapingControlCharacters(metadata[k]!))\n" }
        }
        if !skippedLeaves.isEmpty {
            out += "skipped non-tensor leaves: \(skippedLeaves.count) (\(skippedLeaves.prefix(8).joined(separator: ", "))\(skippedLeaves.count > 8 ? ", …" : ""))\n"
        }
        return out
    }
}

