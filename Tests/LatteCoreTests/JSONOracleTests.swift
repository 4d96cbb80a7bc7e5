import Foundation
import Testing
import LatteCore
import LatteJSONOracle

private func ours(_ text: [UInt8]) -> JSONValue? { try? text.withUnsafeBytes { try JSON.parse($0) } }
private func theirs(_ text: [UInt8]) -> JSONValue? { text.withUnsafeBytes { JSONCOracle.parse($0) } }

/// Our parser against json-c in strict mode, the independent oracle that FuzzJSON runs.
@Suite struct JSONOracleTests {
    /// Where json-c (strict mode, UTF-8 validation on) accepts what RFC 8259 or the
    /// reference safetensors implementation refuses: the known deviations that the
    /// differential fuzz target allows. Each is checked here so a json-c upgrade that
    /// fixes one shows up.
    static let jsonCDeviations: [(text: String, why: String)] = [
        (#"{"a\u0000x": 1, "a\u0000y": 2}"#, "keys are C strings: cut at an escaped NUL, two names merge into \"a\""),
        (#"["\ud800"]"#, "a lone high surrogate is accepted"),
        (#"["\udc00"]"#, "a lone low surrogate is accepted"),
        (#"{"a": 1, "a": 2}"#, "a repeated key replaces the earlier one"),
        ("[1.]", "a fraction without digits reads as 1.0"),
        ("[09.5]", "a leading zero is let through before a fraction (found by FuzzJSON)"),
        ("\t-.0", "a fraction without integer digits is read after a minus (found by FuzzJSON)"),
        ("444444.", "a fraction point without digits is read at the end of the text (found by FuzzJSON)"),
        (" 1e309", "a number past the double range reads as infinity (found by FuzzJSON)"),
        ("NaN", "NaN is read as a number"),
        ("[Infinity]", "Infinity is read as a number"),
        ("[-Infinity]", "-Infinity is read as a number"),
        ("{'a': 1}", "single-quoted strings are read"),
        ("[\"a\tb\"]", "a raw tab inside a string is read"),
    ]

    /// json-c 0.16 decodes some valid surrogate pairs to U+FFFD (found by FuzzJSON); we, as
    /// Python and serde_json, read U+2DB32.
    @Test func jsonCMisreadsSomeSurrogatePairs() {
        let text = Array(#"["\ud876\udf32", "\ud83d\ude00"]"#.utf8)
        #expect(ours(text) == .array([.string("\u{2DB32}"), .string("😀")]))
        #expect(theirs(text) == .array([.string("\u{FFFD}"), .string("😀")]))
    }

    @Test(arguments: 0 ..< jsonCDeviations.count) func jsonCDeviatesWhereWeRefuse(_ i: Int) {
        let (text, why) = Self.jsonCDeviations[i]
        #expect(theirs(Array(text.utf8)) != nil, "json-c no longer deviates: \(why)")
        let v = ours(Array(text.utf8))
        if i == 0 {
            // We keep both names whole (the reader then refuses NUL in names).
            #expect(v?.objectValue?.map(\.0) == ["a\u{0}x", "a\u{0}y"])
            #expect(theirs(Array(text.utf8))?.objectValue?.map(\.0) == ["a"])
        } else {
            #expect(v == nil, "\(why): we must refuse it")
        }
    }

    /// Texts outside the grammar that both parsers refuse.
    static let bothRefuse = [
        "", " ", "[1,]", #"{"a":1,}"#, "[01]", "[.5]", "[+1]", "[1e]",
        "['a']", "[True]", "[nul]", "[1] x", "/* c */ [1]", "[1] // c", "[\"\\x41\"]",
        "[\"\\u12\"]", "{\"a\" 1}", "{1: 2}", "[", "{", "\"abc", "[1 2]", "{\"a\":}", "[,1]", "[\"\\\"]",
    ]

    @Test func bothRefuseWhatIsNotJSON() {
        for text in Self.bothRefuse {
            #expect(ours(Array(text.utf8)) == nil, "we accept \(text.debugDescription)")
            #expect(theirs(Array(text.utf8)) == nil, "json-c accepts \(text.debugDescription)")
        }
    }

    /// Every JSON file in the repository reads the same with both, but the hostile corpus,
    /// which is crafted to hit the deviations above.
    @Test func bothReadTheRepositorysJSONAlike() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        var files: [URL] = []
        for folder in ["fixtures", "schemas"] {
            let walker = FileManager.default.enumerator(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil)
            while let u = walker?.nextObject() as? URL {
                if u.pathExtension == "json", !u.path.contains("/fixtures/hostile/") { files.append(u) }
            }
        }
        #expect(files.count > 10)
        for f in files {
            let bytes = [UInt8](try Data(contentsOf: f))
            let a = ours(bytes), b = theirs(bytes)
            #expect(a == b, "\(f.path)")
        }
    }
}
