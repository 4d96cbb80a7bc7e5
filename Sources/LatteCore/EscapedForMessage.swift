extension String {
    /// The string with every character that a terminal would act on written as a JSON-style
    /// escape (`\n`, `\t`, `\r`, `\u001b`): C0 controls, DEL, C1 controls (U+0080-U+009F,
    /// where U+009B is a one-byte CSI) and the bidirectional overrides and isolates
    /// (U+202A-U+202E, U+2066-U+2069) that reorder what is shown. For names from files in
    /// error messages: a tensor called `"\u001b[2J"` must not clear the user's screen.
    public var escapedForMessage: String {
        guard unicodeScalars.contains(where: Self.needsEscape) else { return self }
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for u in unicodeScalars {
            guard Self.needsEscape(u) else { out.unicodeScalars.append(u); continue }
            switch u {
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                let hex = String(u.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return out
    }

    private static func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0 ..< 0x20, 0x7F ... 0x9F, 0x202A ... 0x202E, 0x2066 ... 0x2069: true
        default: false
        }
    }
}
