/// Text from files (tensor names, metadata, paths) made safe to print: every control
/// character and every character that reorders or hides text on a terminal is written as a
/// visible escape, so a crafted name can neither move the cursor, recolour the screen, nor
/// break the one-line error contract.
///
/// `\n`, `\r`, `\t` and `\0` keep their short forms; other C0 controls and DEL become `\x1b`
/// style escapes; C1 controls (U+0080–U+009F, where U+009B is an 8-bit CSI), the bidirectional
/// embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the line and paragraph
/// separators (U+2028, U+2029) become `\u{9b}` style escapes. Backslashes are kept as they
/// are, so escaping twice gives the same text as escaping once.
public func escapingControlCharacters(_ s: String) -> String {
    guard s.unicodeScalars.contains(where: needsEscape) else { return s }
    var out = String.UnicodeScalarView()
    for u in s.unicodeScalars {
        guard needsEscape(u) else { out.append(u); continue }
        let text: String
        switch u.value {
        case 0x00: text = "\\0"
        case 0x09: text = "\\t"
        case 0x0A: text = "\\n"
        case 0x0D: text = "\\r"
        case 0 ..< 0x80: text = "\\x" + (u.value < 0x10 ? "0" : "") + String(u.value, radix: 16)
        default: text = "\\u{" + String(u.value, radix: 16) + "}"
        }
        out.append(contentsOf: text.unicodeScalars)
    }
    return String(out)
}

/// True for the scalars `escapingControlCharacters` rewrites.
private func needsEscape(_ u: Unicode.Scalar) -> Bool {
    switch u.value {
    case 0x00 ..< 0x20, 0x7F ... 0x9F, 0x202A ... 0x202E, 0x2066 ... 0x2069, 0x2028, 0x2029: true
    default: false
    }
}
