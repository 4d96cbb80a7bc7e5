import LatteCore

/// Renders rows as aligned columns, the first row as a header.
func renderTable(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
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
    /// The string followed by spaces up to `width` characters.
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
