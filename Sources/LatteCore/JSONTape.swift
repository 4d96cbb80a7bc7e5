import LatteSystem

/// A parsed JSON text as a flat tape: one 64-bit word per value and per object key, in
/// document order. Strings and numbers are not copied: a word holds the byte range of
/// the token in the text, decoded only when asked. A container's word holds its child
/// count and the tape index just past its last descendant, so skipping it is O(1).
///
/// Word layout (bit 63 down to 0):
///
///     kind (3) | flag (1) | a (30) | b (30)
///
/// - string: flag = has escapes, a = raw content length, b = offset of the first content byte
/// - number: flag = integer syntax (no fraction or exponent), a = token length, b = token offset
/// - array, object: a = element or member count, b = tape index after the container
/// - null, false, true: nothing else
///
/// 30-bit fields bound the text to `JSON.maxTextSize` bytes; every value or key takes at
/// least one byte of text, so tape indices and counts fit as well.
struct JSONTape {
    enum Kind: UInt64 {
        case null = 0, `false`, `true`, number, string, array, object
    }

    static let fieldBits: UInt64 = 30
    static let fieldMask: UInt64 = (1 << 30) - 1
    static let flagBit: UInt64 = 1 << 60

    @inline(__always) static func word(_ kind: Kind, flag: Bool = false, a: Int = 0, b: Int = 0) -> UInt64 {
        kind.rawValue << 61 | (flag ? flagBit : 0) | UInt64(truncatingIfNeeded: a) << fieldBits | UInt64(truncatingIfNeeded: b)
    }

    @inline(__always) static func kind(_ w: UInt64) -> Kind { Kind(rawValue: w >> 61)! }
    @inline(__always) static func flag(_ w: UInt64) -> Bool { w & flagBit != 0 }
    @inline(__always) static func a(_ w: UInt64) -> Int { Int(truncatingIfNeeded: (w >> fieldBits) & fieldMask) }
    @inline(__always) static func b(_ w: UInt64) -> Int { Int(truncatingIfNeeded: w & fieldMask) }
}

/// A tape and the text it points into, both borrowed: valid while their owner (a
/// `JSONTree`, or the `JSON.parse` call that built them) keeps them.
struct JSONDocument {
    let text: UnsafePointer<UInt8>
    let textCount: Int
    let tape: UnsafePointer<UInt64>
    let count: Int

    @inline(__always) func word(_ i: Int) -> UInt64 { tape[i] }
    @inline(__always) func kind(_ i: Int) -> JSONTape.Kind { JSONTape.kind(tape[i]) }

    /// The tape index after the value at `i` and all its descendants.
    @inline(__always) func next(after i: Int) -> Int {
        let w = tape[i]
        switch JSONTape.kind(w) {
        case .array, .object: return JSONTape.b(w)
        default: return i + 1
        }
    }

    /// The raw bytes between a string's quotes (escapes not decoded).
    @inline(__always) func rawString(_ i: Int) -> UnsafeBufferPointer<UInt8> {
        let w = tape[i]
        return UnsafeBufferPointer(start: text + JSONTape.b(w), count: JSONTape.a(w))
    }

    @inline(__always) func hasEscapes(_ i: Int) -> Bool { JSONTape.flag(tape[i]) }

    /// Calls `body` with a string's decoded UTF-8 bytes (in place when it has no escapes).
    func withStringBytes<R>(_ i: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> R) rethrows -> R {
        let raw = rawString(i)
        guard hasEscapes(i) else { return try body(raw) }
        var decoded: [UInt8] = []
        JSONStringDecoder.unescape(raw, into: &decoded)
        return try decoded.withUnsafeBufferPointer(body)
    }

    func string(_ i: Int) -> String {
        let raw = rawString(i)
        guard hasEscapes(i) else { return String(decoding: raw, as: UTF8.self) }
        var decoded: [UInt8] = []
        decoded.reserveCapacity(raw.count)
        JSONStringDecoder.unescape(raw, into: &decoded)
        return String(decoding: decoded, as: UTF8.self)
    }

    /// A string's decoded bytes equal `bytes`.
    func stringEquals(_ i: Int, _ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let raw = rawString(i)
        if !hasEscapes(i) {
            // An unescaped string is its own decoding.
            return raw.count == bytes.count && (raw.count == 0 || memcmp(raw.baseAddress!, bytes.baseAddress!, raw.count) == 0)
        }
        // Escapes only shorten text, so a decoding cannot be longer than its source.
        guard raw.count >= bytes.count else { return false }
        return withStringBytes(i) { d in d.count == bytes.count && (d.count == 0 || memcmp(d.baseAddress!, bytes.baseAddress!, d.count) == 0) }
    }

    /// Two strings decode to the same bytes.
    func stringsEqual(_ i: Int, _ j: Int) -> Bool {
        if !hasEscapes(j) { return stringEquals(i, rawString(j)) }
        return withStringBytes(j) { stringEquals(i, $0) }
    }

    /// The number token at `i` as an exact integer, nil if it is not integer syntax or
    /// does not fit `Int64`.
    func int64(_ i: Int) -> Int64? {
        let w = tape[i]
        guard JSONTape.kind(w) == .number, JSONTape.flag(w) else { return nil }
        let token = UnsafeBufferPointer(start: text + JSONTape.b(w), count: JSONTape.a(w))
        let negative = token[0] == UInt8(ascii: "-")
        guard let magnitude = Self.digits(negative ? UnsafeBufferPointer(rebasing: token[1...]) : token) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            return magnitude <= UInt64(Int64.max) ? -Int64(magnitude) : nil
        }
        return magnitude <= UInt64(Int64.max) ? Int64(magnitude) : nil
    }

    /// A non-negative integer token that fits `UInt64`.
    func uint64(_ i: Int) -> UInt64? {
        let w = tape[i]
        guard JSONTape.kind(w) == .number, JSONTape.flag(w) else { return nil }
        let token = UnsafeBufferPointer(start: text + JSONTape.b(w), count: JSONTape.a(w))
        guard token[0] != UInt8(ascii: "-") else { return nil }
        return Self.digits(token)
    }

    /// Any number token as the nearest double (integers beyond 2^53 round).
    func double(_ i: Int) -> Double? {
        let w = tape[i]
        guard JSONTape.kind(w) == .number else { return nil }
        let token = UnsafeBufferPointer(start: text + JSONTape.b(w), count: JSONTape.a(w))
        // The token passed the RFC 8259 grammar, which is a subset of what `Double(_:)` reads.
        return Double(String(decoding: token, as: UTF8.self))
    }

    /// Decimal digits (already validated) as UInt64; nil on overflow.
    private static func digits(_ d: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in d {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(UInt64(c &- 0x30))
            if o1 || o2 { return nil }
            v = s
        }
        return v
    }

    /// The value at `i` converted to a `JSONValue` (copies every string).
    func value(_ i: Int) -> JSONValue {
        let w = tape[i]
        switch JSONTape.kind(w) {
        case .null: return .null
        case .false: return .bool(false)
        case .true: return .bool(true)
        case .number:
            if JSONTape.flag(w) {
                if let v = int64(i) { return .int(v) }
                if let u = uint64(i) { return .uint(u) }
            }
            return .double(double(i) ?? .nan)
        case .string: return .string(string(i))
        case .array:
            var items: [JSONValue] = []
            items.reserveCapacity(JSONTape.a(w))
            var j = i + 1
            let end = JSONTape.b(w)
            while j < end { items.append(value(j)); j = next(after: j) }
            return .array(items)
        case .object:
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(JSONTape.a(w))
            var j = i + 1
            let end = JSONTape.b(w)
            while j < end {
                members.append((string(j), value(j + 1)))
                j = next(after: j + 1)
            }
            return .object(members)
        }
    }
}

/// Decoding of string escapes that the parser has already validated.
enum JSONStringDecoder {
    @inline(__always) static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case UInt8(ascii: "0") ... UInt8(ascii: "9"): UInt32(c - UInt8(ascii: "0"))
        case UInt8(ascii: "a") ... UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A") ... UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Appends the UTF-8 of `raw` (a string's content, escapes validated) to `out`.
    ///
    /// Every read is bounds-checked all the same: `JSON.parse` decodes in place, and text in
    /// a memory-mapped file may change after it was validated. Changed text decodes to
    /// garbage, never to a read outside `raw`.
    static func unescape(_ raw: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        var i = 0
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0 ..< 4 { v = v << 4 | (at + k < raw.count ? hexValue(raw[at + k]) ?? 0 : 0) }
            return v
        }
        while i < raw.count {
            let c = raw[i]
            guard c == UInt8(ascii: "\\"), i + 1 < raw.count else { out.append(c); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = hex4(i)
                i += 4
                if scalar >= 0xD800, scalar < 0xE000 {
                    // The parser lets a high surrogate through only with a low one after it.
                    let low = hex4(i + 2)
                    i += 6
                    guard scalar < 0xDC00, low >= 0xDC00, low < 0xE000 else { scalar = 0xFFFD; appendUTF8(scalar, to: &out); continue }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                }
                appendUTF8(scalar, to: &out)
            default: out.append(e) // \" \\ \/
            }
        }
    }

    @inline(__always) static func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
        switch s {
        case 0 ..< 0x80: out.append(UInt8(s))
        case 0x80 ..< 0x800:
            out.append(UInt8(0xC0 | s >> 6)); out.append(UInt8(0x80 | s & 0x3F))
        case 0x800 ..< 0x10000:
            out.append(UInt8(0xE0 | s >> 12)); out.append(UInt8(0x80 | (s >> 6) & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        default:
            out.append(UInt8(0xF0 | s >> 18)); out.append(UInt8(0x80 | (s >> 12) & 0x3F))
            out.append(UInt8(0x80 | (s >> 6) & 0x3F)); out.append(UInt8(0x80 | s & 0x3F))
        }
    }
}
