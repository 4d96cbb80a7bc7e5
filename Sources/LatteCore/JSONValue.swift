import CJSONC
#if canImport(Glibc)
import Glibc
#endif

/// A parsed JSON document. Objects keep their members in document order.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// An integer above `Int64.max` (json-c keeps these as unsigned).
    case uint(UInt64)
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

    public var description: String {
        switch self {
        case .invalidUTF8: "not valid UTF-8"
        case let .syntax(msg, off): "invalid JSON at byte \(off): \(msg)"
        case .truncated: "invalid JSON: the text ends early"
        case let .trailingContent(off): "invalid JSON: unexpected content after the value at byte \(off)"
        case let .tooDeep(limit): "invalid JSON: nested deeper than \(limit) levels"
        case let .duplicateKey(k, _): "duplicate key \"\(k)\""
        }
    }
}

public enum JSON {
    /// Nesting limit: far above any real header or config, far below a stack overflow.
    public static let maxDepth = 64

    /// Parses `text` strictly with json-c (`json_tokener_parse_ex` in `JSON_TOKENER_STRICT`
    /// mode with UTF-8 validation), allowing whitespace around the value and refusing
    /// duplicate object keys, which json-c itself would silently merge.
    public static func parse(_ text: UnsafeRawBufferPointer) throws(JSONError) -> JSONValue {
        let tree = try parseTree(text)
        return withExtendedLifetime(tree) { tree.root.value }
    }

    /// Parses like `parse(_:)` but keeps json-c's tree, for readers that walk large
    /// documents (a safetensors header of 100,000 tensors) without converting them.
    public static func parseTree(_ text: UnsafeRawBufferPointer) throws(JSONError) -> JSONTree {
        guard let tok = json_tokener_new_ex(Int32(maxDepth)) else { throw .syntax("out of memory", offset: 0) }
        defer { json_tokener_free(tok) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        // json-c reads NUL as the end of the text; an embedded NUL is never valid JSON.
        if text.contains(0) { throw .syntax("NUL byte in text", offset: text.firstIndex(of: 0)!) }
        guard text.count < Int(Int32.max) else { throw .syntax("text too large", offset: 0) }
        guard let base = text.baseAddress?.assumingMemoryBound(to: CChar.self), text.count > 0 else { throw .truncated }
        var obj = json_tokener_parse_ex(tok, base, Int32(text.count))
        var err = json_tokener_get_error(tok)
        let end = Int(json_tokener_get_parse_end(tok))
        if obj == nil, err == json_tokener_continue {
            // A bare scalar (`null`, `3`) is only complete once json-c sees the end of input:
            // a NUL byte is how json-c is told the text is over.
            var nul: CChar = 0
            obj = json_tokener_parse_ex(tok, &nul, 1)
            err = json_tokener_get_error(tok)
            if obj == nil, err != json_tokener_success { throw .truncated }
        }
        // json-c returns NULL both for failures and for a document that is just `null`.
        if obj == nil, err != json_tokener_success {
            switch err {
            case json_tokener_continue: throw .truncated
            case json_tokener_error_depth: throw .tooDeep(limit: maxDepth)
            case json_tokener_error_parse_utf8_string: throw .invalidUTF8
            default: throw .syntax(String(cString: json_tokener_error_desc(err)), offset: end)
            }
        }
        let tree = JSONTree(obj)
        if err == json_tokener_continue { throw .truncated }
        var i = end
        while i < text.count {
            switch text[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: throw .trailingContent(offset: i)
            }
        }
        let body = UnsafeRawBufferPointer(rebasing: text[0 ..< end])
        // json-c merges repeated keys silently; when the text has more keys than json-c's
        // objects hold members, look for the repeated one (the slow path, on bad input only).
        let keys: Int
        switch checkStructure(body) {
        case let .notJSON(what, at): throw .syntax(what, offset: at)
        case let .ok(count): keys = count
        }
        if keys != memberCount(obj), let (dup, depth) = firstDuplicateKey(body) { throw .duplicateKey(dup, depth: depth) }
        return tree
    }

    /// Parses a Swift string (configs, index files read into memory).
    public static func parse(_ text: String) throws(JSONError) -> JSONValue {
        let bytes = Array(text.utf8)
        let result: Result<JSONValue, JSONError> = bytes.withUnsafeBytes { buf in
            do throws(JSONError) { return .success(try parse(buf)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    fileprivate static func convert(_ o: OpaquePointer?) -> JSONValue {
        guard let o else { return .null }
        switch json_object_get_type(o) {
        case json_type_null: return .null
        case json_type_boolean: return .bool(json_object_get_boolean(o) != 0)
        case json_type_int:
            let i = json_object_get_int64(o)
            if i == Int64.max {
                let u = json_object_get_uint64(o)
                if u > UInt64(Int64.max) { return .uint(u) }
            }
            return .int(i)
        case json_type_double: return .double(json_object_get_double(o))
        case json_type_string:
            let n = Int(json_object_get_string_len(o))
            let p = json_object_get_string(o)!
            return .string(String(decoding: UnsafeRawBufferPointer(start: p, count: n), as: UTF8.self))
        case json_type_array:
            let n = json_object_array_length(o)
            var items: [JSONValue] = []
            items.reserveCapacity(n)
            for i in 0 ..< n { items.append(convert(json_object_array_get_idx(o, i))) }
            return .array(items)
        case json_type_object:
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(Int(json_object_object_length(o)))
            var it = json_object_iter_begin(o)
            var end = json_object_iter_end(o)
            while !(json_object_iter_equal(&it, &end) != 0) {
                let name = String(cString: json_object_iter_peek_name(&it))
                members.append((name, convert(json_object_iter_peek_value(&it))))
                json_object_iter_next(&it)
            }
            return .object(members)
        default: return .null
        }
    }

    enum StructureCheck { case ok(keys: Int), notJSON(String, Int) }

    /// Checks text that json-c has accepted for what json-c lets through and JSON does not
    /// (single quotes, `NaN`/`Infinity`, raw control characters in strings) and counts the
    /// object keys, without allocating.
    static func checkStructure(_ t: UnsafeRawBufferPointer) -> StructureCheck {
        var keys = 0
        var i = 0
        while i < t.count {
            switch t[i] {
            case UInt8(ascii: "\""):
                let start = i
                i += 1
                while i < t.count, t[i] != UInt8(ascii: "\"") {
                    if t[i] < 0x20 { return .notJSON("control character in a string", i) }
                    i += t[i] == UInt8(ascii: "\\") ? 2 : 1
                }
                i += 1
                var j = i
                while j < t.count, [0x20, 0x09, 0x0A, 0x0D].contains(t[j]) { j += 1 }
                if j < t.count, t[j] == UInt8(ascii: ":") { keys += 1 }
                _ = start
            case UInt8(ascii: "'"): return .notJSON("single-quoted strings are not JSON", i)
            case UInt8(ascii: "A") ... UInt8(ascii: "D"), UInt8(ascii: "F") ... UInt8(ascii: "Z"):
                return .notJSON("NaN and Infinity are not JSON", i)
            default: i += 1
            }
        }
        return .ok(keys: keys)
    }

    /// Members of every object in a json-c tree.
    private static func memberCount(_ o: OpaquePointer?) -> Int {
        guard let o else { return 0 }
        switch json_object_get_type(o) {
        case json_type_array:
            var n = 0
            for i in 0 ..< json_object_array_length(o) { n += memberCount(json_object_array_get_idx(o, i)) }
            return n
        case json_type_object:
            var n = Int(json_object_object_length(o))
            var it = json_object_iter_begin(o)
            var end = json_object_iter_end(o)
            while json_object_iter_equal(&it, &end) == 0 {
                n += memberCount(json_object_iter_peek_value(&it))
                json_object_iter_next(&it)
            }
            return n
        default: return 0
        }
    }

    /// The first key that appears twice in one object, compared after unescaping.
    static func firstDuplicateKey(_ t: UnsafeRawBufferPointer) -> (String, depth: Int)? {
        var stack: [(isObject: Bool, keys: Set<String>, expectKey: Bool)] = []
        var i = 0
        while i < t.count {
            switch t[i] {
            case UInt8(ascii: "{"): stack.append((true, [], true)); i += 1
            case UInt8(ascii: "["): stack.append((false, [], false)); i += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): stack.removeLast(); i += 1
            case UInt8(ascii: ","):
                if !stack.isEmpty, stack[stack.count - 1].isObject { stack[stack.count - 1].expectKey = true }
                i += 1
            case UInt8(ascii: "\""):
                let (s, next) = readString(t, from: i)
                if !stack.isEmpty, stack[stack.count - 1].isObject, stack[stack.count - 1].expectKey {
                    if !stack[stack.count - 1].keys.insert(s).inserted { return (s, stack.count) }
                    stack[stack.count - 1].expectKey = false
                }
                i = next
            default: i += 1
            }
        }
        return nil
    }

    /// Decodes the string literal starting at the quote at `start`; returns it and the index after it.
    private static func readString(_ t: UnsafeRawBufferPointer, from start: Int) -> (String, Int) {
        var bytes: [UInt8] = []
        var i = start + 1
        var pendingHigh: UInt32? = nil
        func hex4(_ at: Int) -> UInt32 {
            var v: UInt32 = 0
            for k in 0 ..< 4 where at + k < t.count {
                let h = t[at + k]
                v = v << 4 | UInt32(h >= 97 ? h - 87 : h >= 65 ? h - 55 : h - 48)
            }
            return v
        }
        func append(scalar: UInt32) {
            bytes.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
        }
        while i < t.count, t[i] != UInt8(ascii: "\"") {
            if t[i] == UInt8(ascii: "\\"), i + 1 < t.count {
                let e = t[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "b"): bytes.append(0x08)
                case UInt8(ascii: "f"): bytes.append(0x0C)
                case UInt8(ascii: "u"):
                    let v = hex4(i)
                    i += 4
                    if (0xD800 ..< 0xDC00).contains(v) { pendingHigh = v; continue }
                    if let h = pendingHigh, (0xDC00 ..< 0xE000).contains(v) {
                        append(scalar: 0x10000 + ((h - 0xD800) << 10) + (v - 0xDC00))
                    } else {
                        append(scalar: v)
                    }
                default: bytes.append(e)
                }
                pendingHigh = nil
            } else {
                bytes.append(t[i])
                i += 1
            }
        }
        return (String(decoding: bytes, as: UTF8.self), i + 1)
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

// MARK: - Borrowed views of json-c's tree

/// A parsed json-c document (`json_object_put` on release). Its nodes are valid while it lives.
public final class JSONTree {
    fileprivate let object: OpaquePointer?

    fileprivate init(_ object: OpaquePointer?) { self.object = object }

    deinit { json_object_put(object) }

    /// The root value. Nodes borrow the tree: keep the tree alive while using them.
    public var root: JSONNode { JSONNode(object: object) }
}

/// One value in a `JSONTree`, read in place (`json_object_get_*`); no copies until asked.
public struct JSONNode {
    fileprivate let object: OpaquePointer?

    /// The value converted to a `JSONValue` (copies).
    public var value: JSONValue { JSON.convert(object) }

    public var isObject: Bool { json_object_get_type(object) == json_type_object }
    public var isArray: Bool { json_object_get_type(object) == json_type_array }

    /// A string's bytes compared without building a Swift string.
    public func stringEquals(_ s: StaticString) -> Bool {
        guard json_object_get_type(object) == json_type_string else { return false }
        return Int(json_object_get_string_len(object)) == s.utf8CodeUnitCount
            && memcmp(json_object_get_string(object), s.utf8Start, s.utf8CodeUnitCount) == 0
    }

    /// True when both nodes are strings with the same bytes (compared in place).
    public func sameString(as other: JSONNode) -> Bool {
        guard json_object_get_type(object) == json_type_string, json_object_get_type(other.object) == json_type_string else { return false }
        let n = json_object_get_string_len(object)
        return n == json_object_get_string_len(other.object) && memcmp(json_object_get_string(object), json_object_get_string(other.object), Int(n)) == 0
    }

    public var string: String? {
        guard json_object_get_type(object) == json_type_string else { return nil }
        let n = Int(json_object_get_string_len(object))
        return String(decoding: UnsafeRawBufferPointer(start: json_object_get_string(object), count: n), as: UTF8.self)
    }

    /// An integer member (json-c type int) as Int64; values above `Int64.max` give nil.
    public var int64: Int64? {
        guard json_object_get_type(object) == json_type_int else { return nil }
        let i = json_object_get_int64(object)
        if i == Int64.max, json_object_get_uint64(object) > UInt64(Int64.max) { return nil }
        return i
    }

    public var count: Int {
        switch json_object_get_type(object) {
        case json_type_array: json_object_array_length(object)
        case json_type_object: Int(json_object_object_length(object))
        default: 0
        }
    }

    public subscript(index: Int) -> JSONNode { JSONNode(object: json_object_array_get_idx(object, index)) }

    /// Calls `body` with each member's name (a C string, valid during the call) and value, in order.
    public func forEachMember<E: Error>(_ body: (UnsafePointer<CChar>, JSONNode) throws(E) -> Void) throws(E) {
        guard isObject else { return }
        var it = json_object_iter_begin(object)
        var end = json_object_iter_end(object)
        while json_object_iter_equal(&it, &end) == 0 {
            try body(json_object_iter_peek_name(&it), JSONNode(object: json_object_iter_peek_value(&it)))
            json_object_iter_next(&it)
        }
    }

    public var typeName: String { value.typeName }
}
