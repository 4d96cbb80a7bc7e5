import CJSONC
import LatteCore

/// json-c (`json_tokener_parse_ex`, `JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8`) read
/// into a `JSONValue`: an independent parser to compare `JSON.parse` with, in the fuzz target
/// and the tests. Not used to read any file.
public enum JSONCOracle {
    /// json-c's verdict on `text`: the value, or nil when it refuses the text.
    /// Object keys are json-c's C strings, so a key cut at an escaped NUL shows as cut.
    public static func parse(_ text: UnsafeRawBufferPointer, maxDepth: Int = JSON.maxDepth) -> JSONValue? {
        // json-c reads a NUL byte as the end of the text; an empty text is not JSON.
        guard let base = text.baseAddress?.assumingMemoryBound(to: CChar.self), text.count > 0,
              text.count < Int(Int32.max), !text.contains(0) else { return nil }
        guard let tok = json_tokener_new_ex(Int32(maxDepth)) else { return nil }
        defer { json_tokener_free(tok) }
        json_tokener_set_flags(tok, Int32(JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8))
        var obj = json_tokener_parse_ex(tok, base, Int32(text.count))
        var err = json_tokener_get_error(tok)
        var end = Int(json_tokener_get_parse_end(tok))
        if obj == nil, err == json_tokener_continue {
            // A bare scalar (`null`, `3`) is complete only once json-c sees the end: a NUL byte.
            var nul: CChar = 0
            obj = json_tokener_parse_ex(tok, &nul, 1)
            err = json_tokener_get_error(tok)
            end = text.count
        }
        defer { json_object_put(obj) }
        guard err == json_tokener_success else { return nil }
        // json-c stops after the first value; only whitespace may follow it.
        for i in end ..< text.count {
            switch text[i] {
            case 0x20, 0x09, 0x0A, 0x0D: continue
            default: return nil
            }
        }
        return convert(obj)
    }

    private static func convert(_ o: OpaquePointer?) -> JSONValue {
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
            return .string(String(decoding: UnsafeRawBufferPointer(start: json_object_get_string(o), count: n), as: UTF8.self))
        case json_type_array:
            let n = json_object_array_length(o)
            return .array((0 ..< n).map { convert(json_object_array_get_idx(o, $0)) })
        case json_type_object:
            var members: [(String, JSONValue)] = []
            var it = json_object_iter_begin(o)
            var stop = json_object_iter_end(o)
            while json_object_iter_equal(&it, &stop) == 0 {
                members.append((String(cString: json_object_iter_peek_name(&it)), convert(json_object_iter_peek_value(&it))))
                json_object_iter_next(&it)
            }
            return .object(members)
        default: return .null
        }
    }
}
