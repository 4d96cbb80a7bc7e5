import Testing
@testable import LatteCore

@Suite struct JSONTests {
    @Test func parsesObjectsInDocumentOrder() throws {
        let v = try JSON.parse(#" {"b": 1, "a": [true, null, "x", 2.5], "c": {"d": "e"}} "#)
        #expect(v.objectValue?.map(\.0) == ["b", "a", "c"])
        #expect(v["a"] == .array([.bool(true), .null, .string("x"), .double(2.5)]))
        #expect(v["c"]?["d"]?.stringValue == "e")
    }

    @Test func refusesDuplicateKeysEvenWhenEscapedDifferently() {
        #expect(throws: JSONError.duplicateKey("a", depth: 1)) { try JSON.parse(#"{"a": 1, "a": 2}"#) }
        #expect(throws: JSONError.duplicateKey("a", depth: 1)) { try JSON.parse(#"{"a": 1, "\u0061": 2}"#) }
        #expect(throws: JSONError.duplicateKey("k", depth: 2)) { try JSON.parse(#"{"x": {"k": 1, "k": 1}}"#) }
        #expect(throws: Never.self) { try JSON.parse(#"{"x": {"k": 1}, "y": {"k": 1}}"#) }
    }

    @Test func refusesMalformedText() {
        #expect(throws: JSONError.truncated) { try JSON.parse(#"{"a": "#) }
        #expect(throws: JSONError.self) { try JSON.parse("{} x") }
        #expect(throws: Never.self) { try JSON.parse(" {} \n\t ") }
        for lenient in ["[1,]", "{\"a\":1,}", "[NaN]", "[Infinity]", "[1] // c", "/* c */ [1]", "[01]", "[.5]", "[+1]", "[\"a\tb\"]", "[True]"] {
            #expect(throws: JSONError.self, "\(lenient)") { try JSON.parse(lenient) }
        }
        #expect(throws: JSONError.tooDeep(limit: JSON.maxDepth)) { try JSON.parse(String(repeating: "[", count: 200)) }
        #expect(throws: JSONError.self) { try JSON.parse("{'a': 1}") }
        #expect(throws: JSONError.self) { try JSON.parse("") }
        let badUTF8: [UInt8] = [0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D]
        #expect(throws: JSONError.invalidUTF8) { try badUTF8.withUnsafeBytes { try JSON.parse($0) } }
    }

    @Test func scalarDocuments() throws {
        #expect(try JSON.parse("null") == .null)
        #expect(try JSON.parse(" 3 ") == .int(3))
        #expect(try JSON.parse("\"s\"") == .string("s"))
    }

    @Test func keepsLargeIntegersExact() throws {
        #expect(try JSON.parse("[9223372036854775807]") == .array([.int(Int64.max)]))
        #expect(try JSON.parse("[18446744073709551615]") == .array([.uint(UInt64.max)]))
    }

    @Test func serializesAndReparses() throws {
        let v: JSONValue = .object([("s", .string("a\"b\\c\n\u{1}é")), ("n", .array([.int(-3), .double(0.25), .double(1)])), ("o", .object([]))])
        for pretty in [false, true] {
            #expect(try JSON.parse(v.serialized(pretty: pretty)) == v)
        }
    }
}

