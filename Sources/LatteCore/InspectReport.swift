/// What `latte inspect` shows of a checkpoint or `.latte` file, independent of how it is
/// printed (a table for people, `--json` for scripts, see docs/CLI.md).
public struct InspectReport: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var nbytes: Int
        /// Bytes as stored in a `.latte` file (nil for other formats).
        public var storedBytes: Int?
        public var group: Int?
        public var role: String?

        public init(name: String, dtype: DType, shape: [Int], nbytes: Int, storedBytes: Int? = nil, group: Int? = nil, role: String? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.nbytes = nbytes
            self.storedBytes = storedBytes
            self.group = group
            self.role = role
        }
    }

    public var format: CheckpointFormat
    public var files: [String]
    public var metadata: [String: String]
    public var tensors: [Tensor]
    public var skippedLeaves: [String]
    /// Extra top-level members (e.g. `groups` of a mapped `.latte` file), kept in order.
    public var extra: [(String, JSONValue)]

    public init(format: CheckpointFormat, files: [String], metadata: [String: String], tensors: [Tensor],
                skippedLeaves: [String] = [], extra: [(String, JSONValue)] = []) {
        self.format = format
        self.files = files
        self.metadata = metadata
        self.tensors = tensors
        self.skippedLeaves = skippedLeaves
        self.extra = extra
    }

    /// The report of an opened checkpoint.
    public init(_ c: Checkpoint) {
        self.init(format: c.format, files: c.files.map(\.path), metadata: c.metadata,
                  tensors: c.tensors.map { Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, nbytes: $0.byteCount) },
                  skippedLeaves: c.skippedLeaves)
    }

    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.nbytes } }
    public var totalParameters: Int { tensors.reduce(0) { $0 + (elementCount(of: $1.shape) ?? 0) } }

    /// The `inspect --json` document.
    public func json(includeTensors: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("format", .string(format.rawValue)),
            ("files", .array(files.map { .string($0) })),
            ("metadata", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })),
        ]
        if includeTensors {
            members.append(("tensors", .array(tensors.map { t in
                var m: [(String, JSONValue)] = [
                    ("name", .string(t.name)), ("dtype", .string(t.dtype.name)),
                    ("shape", .array(t.shape.map { .int(Int64($0)) })), ("nbytes", .int(Int64(t.nbytes))),
                ]
                if let s = t.storedBytes { m.append(("stored_bytes", .int(Int64(s)))) }
                if let g = t.group { m.append(("group", .int(Int64(g)))) }
                if let r = t.role { m.append(("role", .string(r))) }
                return .object(m)
            })))
        }
        members.append(("summary", .object([
            ("tensors", .int(Int64(tensors.count))),
            ("parameters", .int(Int64(totalParameters))),
            ("bytes", .int(Int64(totalBytes))),
            ("bytes_per_dtype", .object(bytesPerDType.map { ($0.0.name, .int(Int64($0.1))) })),
            ("skipped_leaves", .array(skippedLeaves.map { .string($0) })),
        ])))
        members += extra
        return .object(members)
    }

    /// Bytes per dtype, largest first.
    public var bytesPerDType: [(DType, Int)] {
        var acc: [DType: Int] = [:]
        for t in tensors { acc[t.dtype, default: 0] += t.nbytes }
        return acc.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.name < $1.key.name }
    }

    /// The human-readable table and totals.
    public func table(includeTensors: Bool = true) -> String {
        var out = "format: \(format.rawValue)\n"
        for f in files { out += "file:   \(f)\n" }
        if includeTensors && !tensors.isEmpty {
            let hasStored = tensors.contains { $0.storedBytes != nil }
            let hasGroup = tensors.contains { $0.role != nil }
            var rows: [[String]] = [["name", "dtype", "shape", "size"] + (hasStored ? ["stored", "ratio"] : []) + (hasGroup ? ["group", "role"] : [])]
            for t in tensors {
                var r = [t.name, t.dtype.name, "[" + t.shape.map(String.init).joined(separator: ", ") + "]", formatBytes(t.nbytes)]
                if hasStored {
                    r.append(t.storedBytes.map(formatBytes) ?? "-")
                    r.append(t.storedBytes.map { t.nbytes == 0 ? "-" : formatRatio(Double($0) / Double(t.nbytes)) } ?? "-")
                }
                if hasGroup { r += [t.group.map(String.init) ?? "-", t.role ?? "-"] }
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

/// `12.3 MiB`-style sizes.
public func formatBytes(_ n: Int) -> String {
    if n < 1024 { return "\(n) B" }
    let units = ["KiB", "MiB", "GiB", "TiB"]
    var v = Double(n) / 1024
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return formatFixed(v, digits: v < 10 ? 2 : 1) + " " + units[u]
}

public func formatRatio(_ r: Double) -> String { formatFixed(r, digits: 3) }

/// A fixed-point rendering without Foundation's `String(format:)`.
public func formatFixed(_ v: Double, digits: Int) -> String {
    guard v.isFinite else { return "\(v)" }
    var scale = 1.0
    for _ in 0 ..< digits { scale *= 10 }
    let scaled = (abs(v) * scale).rounded()
    let whole = Int(scaled / scale)
    var frac = String(Int(scaled) - whole * Int(scale))
    while frac.count < digits { frac = "0" + frac }
    return (v < 0 && scaled != 0 ? "-" : "") + String(whole) + (digits > 0 ? "." + frac : "")
}

/// Renders rows as aligned columns, the first row as a header.
public func renderTable(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
    guard let first = rows.first else { return "" }
    var widths = [Int](repeating: 0, count: first.count)
    // Cells come from files (tensor names): escaped, they can neither break a row nor drive the terminal.
    let rows = rows.map { $0.map(escapingControlCharacters) }
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    var out = ""
    for r in rows {
        let cells = r.enumerated().map { i, c in
            rightAligned.contains(i) ? String(repeating: " ", count: widths[i] - c.count) + c : (i == r.count - 1 ? c : c.padding(widths[i]))
        }
        out += cells.joined(separator: "  ") + "\n"
    }
    return out
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
