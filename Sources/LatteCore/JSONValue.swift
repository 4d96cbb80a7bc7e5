import LatteSystem

/// A parsed JSON document. Objects keep their members in document order.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer above `Int64.max` that fits `UInt64`.
    case uint(UInt64)
    /// A number with a fraction or exponent, or an integer beyond `UInt64`.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.int(x), .int(y)): x == y
        case let (.uint(x), .uint(y)): x == y
        case let (.double(x), .double(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The member called `key` of an object.
    public subscript(key: String) -> JSONValue? {
        guard case let .object(members) = self else { return nil }
        return members.first { $0.0 == key }?.1
    }

    public var stringValue: String? { if case let .string(s) = self { s } else { nil } }
    public var boolValue: Bool? { if case let .bool(b) = self { b } else { nil } }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { a } else { nil } }
    public var objectValue: [(String, JSONValue)]? { if case let .object(o) = self { o } else { nil } }
    /// An integer that fits `Int`.
    public var intValue: Int? {
        switch self {
        case let .int(i): Int(exactly: i)
        case let .uint(u): Int(exactly: u)
        default: nil
        }
    }
    /// Any number, as a double.
    public var doubleValue: Double? {
        switch self {
        case let .int(i): Double(i)
        case let .uint(u): Double(u)
        case let .double(d): d
        default: nil
        }
    }

    /// A short name of the value's JSON type, for messages.
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .int, .uint: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}

/// Why a JSON text was refused.
public enum JSONError: Error, Equatable, CustomStringConvertible {
    case invalidUTF8
    case syntax(String, offset: Int)
    case truncated
    case trailingContent(offset: Int)
    case tooDeep(limit: Int)
    /// A key repeated in one object; `depth` 1 is the top-level object.
    case duplicateKey(String, depth: Int)
    case tooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .invalidUTF8: "not valid UTF-8"
        case let .syntax(msg, off): "invalid JSON at byte \(off): \(msg)"
        case .truncated: "invalid JSON: the text ends early"
        case let .trailingContent(off): "invalid JSON: unexpected content after the value at byte \(off)"
        case let .tooDeep(limit): "invalid JSON: nested deeper than \(limit) levels"
        case let .duplicateKey(k, _): "duplicate key \"\(escapingControlCharacters(k))\""
        case let .tooLarge(size, limit): "JSON text of \(size) bytes is over the limit of \(limit)"
        }
    }
}

public enum JSON {
    /// Nesting limit: far above any real header or config, far below a stack overflow.
    /// A text may nest this many arrays and objects, not one more.
    public static let maxDepth = 64

    /// Largest text accepted: 1 GiB - 1, what the tape's 30-bit offsets address. Above every
    /// reader's own limit (a safetensors header's 100 MB, a manifest's 512 MiB).
    public static let maxTextSize = (1 << 30) - 1

    /// Parses `text` strictly (RFC 8259, UTF-8, no duplicate keys; see `JSONParser`) into a
    /// `JSONValue`. For small documents: the value costs tens of bytes per node (6.7x the
    /// text for a manifest-like document, measured, against 22x with json-c), so large ones
    /// are read with `parseTree` (2.1x).
    public static func parse(_ text: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        let (tape, count) = try JSONParser.parse(text)
        defer { free(tape) }
        let doc = JSONDocument(text: text.baseAddress!.assumingMemoryBound(to: UInt8.self), textCount: text.count, tape: tape, count: count)
        return doc.value(0)
    }

    /// Parses like `parse(_:)` into a `JSONTree`: a copy of the text and 8 bytes per value
    /// and key, read in place.
    public static func parseTree(_ text: UnsafeRawBufferPointer) throws(JSONError) -> JSONTree {
        guard text.count <= maxTextSize else { throw .tooLarge(size: text.count, limit: maxTextSize) }
        let copy = UnsafeMutableRawPointer.allocate(byteCount: max(text.count, 1), alignment: 8)
        if let base = text.baseAddress, text.count > 0 { copy.copyMemory(from: base, byteCount: text.count) }
        let parsed: (tape: UnsafeMutablePointer<UInt64>, count: Int)
        do {
            parsed = try JSONParser.parse(UnsafeRawBufferPointer(start: text.count > 0 ? copy : nil, count: text.count))
        } catch {
            copy.deallocate()
            throw error
        }
        return JSONTree(text: copy, textCount: text.count, ownedText: copy, owner: nil, tape: parsed.tape, count: parsed.count)
    }

    /// Parses bytes `range` of a mapped file (or any byte region) in place: no copy, the
    /// tree holds the region.
    ///
    /// If the file changes under the map after the parse, values read later may be garbage
    /// but every read stays inside the ranges the parse recorded (decoders are bounds-checked):
    /// never outside the text.
    public static func parseTree(in file: any ByteRegion, range: Range<Int>) throws(JSONError) -> JSONTree {
        precondition(range.lowerBound >= 0 && range.upperBound <= file.size, "JSON range outside the region")
        let text = UnsafeRawBufferPointer(rebasing: file.bytes[range])
        let parsed = try JSONParser.parse(text)
        return JSONTree(text: text.baseAddress!, textCount: text.count, ownedText: nil, owner: file, tape: parsed.tape, count: parsed.count)
    }

    /// Parses a Swift string (configs, index files read into memory).
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        var text = text
        let result: Result<JSONValue, JSONError> = text.withUTF8 { buf in
            do throws(JSONError) { return .success(try parse(UnsafeRawBufferPointer(buf))) } catch { return .failure(error) }
        }
        return try result.get()
    }
}

// MARK: - Writing

extension JSONValue {
    /// Serializes the value. `pretty` indents by two spaces; keys keep their order.
    public func serialized(pretty: Bool = false) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(to: &out, pretty: pretty, indent: 0)
        return String(decoding: out, as: UTF8.self)
    }

    private static func newline(_ out: inout [UInt8], _ indent: Int) {
        out.append(0x0A)
        for _ in 0 ..< indent { out.append(0x20); out.append(0x20) }
    }

    private func write(to out: inout [UInt8], pretty: Bool, indent: Int) {
        switch self {
        case .null: out += "null".utf8
        case let .bool(b): out += (b ? "true" : "false").utf8
        case let .int(i): out += String(i).utf8
        case let .uint(u): out += String(u).utf8
        case let .double(d):
            if !d.isFinite {
                out += "null".utf8
            } else if d == d.rounded(), abs(d) < 1e15 {
                out += "\(Int64(d)).0".utf8 // integral doubles keep a fraction: 0.0, 1.0
            } else {
                out += "\(d)".utf8
            }
        case let .string(s): JSONValue.escape(s, into: &out)
        case let .array(items):
            if items.isEmpty { out += "[]".utf8; return }
            // Arrays of scalars stay on one line even when pretty, as shapes read best so.
            let inline = !pretty || items.allSatisfy { if case .array = $0 { false } else if case .object = $0 { false } else { true } }
            out.append(UInt8(ascii: "["))
            for (k, v) in items.enumerated() {
                if k > 0 { out += (inline && pretty ? ", " : ",").utf8 }
                if !inline { JSONValue.newline(&out, indent + 1) }
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if !inline { JSONValue.newline(&out, indent) }
            out.append(UInt8(ascii: "]"))
        case let .object(members):
            if members.isEmpty { out += "{}".utf8; return }
            out.append(UInt8(ascii: "{"))
            for (k, (name, v)) in members.enumerated() {
                if k > 0 { out.append(UInt8(ascii: ",")) }
                if pretty { JSONValue.newline(&out, indent + 1) }
                JSONValue.escape(name, into: &out)
                out += (pretty ? ": " : ":").utf8
                v.write(to: &out, pretty: pretty, indent: indent + 1)
            }
            if pretty { JSONValue.newline(&out, indent) }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func escape(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += "\\\"".utf8
            case UInt8(ascii: "\\"): out += "\\\\".utf8
            case 0x0A: out += "\\n".utf8
            case 0x0D: out += "\\r".utf8
            case 0x09: out += "\\t".utf8
            case 0 ..< 0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += "\\u00".utf8
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xF)])
            default: out.append(b) // UTF-8 passes through unchanged
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
