import Testing
@testable import LatteCore

private func parseBytes(_ bytes: [UInt8]) throws(JSONError) -> JSONValue {
    let r: Result<JSONValue, JSONError> = bytes.withUnsafeBytes { b in
        do throws(JSONError) { return .success(try JSON.parse(b)) } catch { return .failure(error) }
    }
    return try r.get()
}

private func error(_ text: String) -> JSONError? {
    do { _ = try JSON.parse(text); return nil } catch { return error }
}

private func error(_ bytes: [UInt8]) -> JSONError? {
    do { _ = try parseBytes(bytes); return nil } catch { return error }
}

/// The strict parser's rules, one error class at a time.
@Suite struct JSONParserTests {
    // MARK: syntax

    @Test func syntaxErrorsNameTheirByte() {
        #expect(error("[1 2]") == .syntax("expected ',' or ']' after an element, found '2'", offset: 3))
        #expect(error(#"{"a" 1}"#) == .syntax("expected ':' after a key, found '1'", offset: 5))
        #expect(error(#"{"a":1 "b":2}"#) == .syntax("expected ',' or '}' after a member, found '\"'", offset: 7))
        #expect(error("{1:2}") == .syntax("expected a string key, found '1'", offset: 1))
        #expect(error("[,]") == .syntax("expected a value, found ','", offset: 1))
        #expect(error("[1,]") == .syntax("expected a value, found ']'", offset: 3))
        #expect(error(#"{"a":1,}"#) == .syntax("expected a string key, found '}'", offset: 7))
        #expect(error("{'a':1}") == .syntax("expected a string key, found '''", offset: 1))
        #expect(error("[1] // c") == .trailingContent(offset: 4))
        #expect(error("/* c */ [1]") == .syntax("expected a value, found '/'", offset: 0))
        #expect(error("[\u{0B}1]") == .syntax("expected a value, found byte 0xB", offset: 1))
        #expect(error("\u{0C}1") == .syntax("expected a value, found byte 0xC", offset: 0))
    }

    @Test func literalsAreExactAndLowercase() throws {
        #expect(try JSON.parse("[true,false,null]") == .array([.bool(true), .bool(false), .null]))
        for bad in ["True", "nul1", "trUe", "truex", "[nullnull]", "[falsey]", "NaN", "Infinity", "-Infinity", "[undefined]"] {
            guard case .syntax = error(bad) else { Issue.record("\(bad) should be a syntax error, got \(String(describing: error(bad)))"); continue }
        }
    }

    @Test func onlyTheFourJSONSpacesSeparate() throws {
        #expect(try JSON.parse(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n") == .array([.int(1)]))
        // NBSP (C2 A0) is valid UTF-8 but not JSON whitespace.
        #expect(error([0xC2, 0xA0, 0x31]) == .syntax("expected a value, found byte 0xC2", offset: 0))
    }

    @Test func trailingContentIsRefusedWithItsOffset() {
        #expect(error("{} x") == .trailingContent(offset: 3))
        #expect(error("1 2") == .trailingContent(offset: 2))
        #expect(error("[][]") == .trailingContent(offset: 2))
        #expect(error("\"a\"\"b\"") == .trailingContent(offset: 3))
    }

    // MARK: truncation

    @Test func everyProperPrefixOfAContainerIsTruncated() {
        let doc = #"{"a": [1, -2.5e+3, "x\u00e9\ud83d\ude00\n", true, false, null, {}], "b": {"c": []}}"#
        let bytes = Array(doc.utf8)
        #expect(throws: Never.self) { try parseBytes(bytes) }
        for n in 0 ..< bytes.count {
            let e = error(Array(bytes[0 ..< n]))
            #expect(e == .truncated, "prefix of \(n) bytes: \(String(describing: e))")
        }
    }

    @Test func emptyAndBlankTextsAreTruncated() {
        #expect(error("") == .truncated)
        #expect(error("   \n") == .truncated)
        #expect(error("-") == .truncated)
        #expect(error("1.") == .truncated)
        #expect(error("1e+") == .truncated)
        #expect(error("\"\\u12") == .truncated)
        #expect(error("\"\\ud800\\u") == .truncated)
    }

    // MARK: strings

    @Test func decodesEveryEscape() throws {
        #expect(try JSON.parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{C}\n\r\t"))
        #expect(try JSON.parse(#""\u00e9\u00E9\u4e2d""#) == .string("éé中"))
        #expect(try JSON.parse(#""\ud83d\ude00 \uD834\uDD1E""#) == .string("😀 𝄞"))
        #expect(try JSON.parse("\"é😀\"") == .string("é😀"))
    }

    @Test func nulEscapesDecodeWhole() throws {
        #expect(try JSON.parse(#""a\u0000b""#) == .string("a\u{0}b"))
        let v = try JSON.parse(#"{"a\u0000x": 1, "a\u0000y": 2}"#)
        #expect(v.objectValue?.map(\.0) == ["a\u{0}x", "a\u{0}y"])
        #expect(error(#"{"a\u0000x": 1, "a\u0000x": 2}"#) == .duplicateKey("a\u{0}x", depth: 1))
        #expect(JSONError.duplicateKey("a\u{0}x", depth: 1).description == #"duplicate key "a\0x""#)
    }

    @Test func unpairedSurrogatesAreRefused() {
        let high = "unpaired surrogate \\uD800 (a high surrogate without a low one)"
        #expect(error(#""\ud800""#) == .syntax(high, offset: 1))
        #expect(error(#""x\ud800y""#) == .syntax(high, offset: 2))
        #expect(error(#""\ud800\n""#) == .syntax(high, offset: 1))
        #expect(error(#""\ud800\ud800""#) == .syntax(high, offset: 1))
        #expect(error(#""\ud800\u0041""#) == .syntax(high, offset: 1))
        #expect(error(#""\udc00""#) == .syntax("unpaired surrogate \\uDC00 (a low surrogate without a high one)", offset: 1))
        #expect(error(#""\ude00\ud83d""#) == .syntax("unpaired surrogate \\uDE00 (a low surrogate without a high one)", offset: 1))
        #expect(error(#"{"\udfff": 1}"#) == .syntax("unpaired surrogate \\uDFFF (a low surrogate without a high one)", offset: 2))
    }

    @Test func badEscapesAndControlCharactersAreRefused() {
        #expect(error(#""\x41""#) == .syntax("invalid escape \\'x'", offset: 1))
        #expect(error(#""\'""#) == .syntax("invalid escape \\'''", offset: 1))
        #expect(error(#""\u12G4""#) == .syntax("\\u needs four hex digits", offset: 1))
        #expect(error(#""\U0041""#) == .syntax("invalid escape \\'U'", offset: 1))
        #expect(error("\"a\tb\"") == .syntax("control character 0x9 in a string (it must be escaped)", offset: 2))
        #expect(error([0x22, 0x00, 0x22]) == .syntax("control character 0x0 in a string (it must be escaped)", offset: 1))
        #expect(error([0x22, 0x1B, 0x22]) == .syntax("control character 0x1B in a string (it must be escaped)", offset: 1))
        // DEL is not a control character for JSON.
        #expect(throws: Never.self) { try parseBytes([0x22, 0x7F, 0x22]) }
    }

    @Test func invalidUTF8IsRefusedInAndOutOfStrings() {
        let bad: [[UInt8]] = [
            [0x22, 0xFF, 0x22], // never valid
            [0x22, 0x80, 0x22], // a lone continuation byte
            [0x22, 0xC0, 0x80, 0x22], // overlong NUL
            [0x22, 0xE0, 0x80, 0xAF, 0x22], // overlong '/'
            [0x22, 0xED, 0xA0, 0x80, 0x22], // an encoded surrogate (CESU-8)
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], // past U+10FFFF
            [0x22, 0xE2, 0x82, 0x22], // cut short by the quote
            [0x22, 0xE2, 0x82], // cut short by the end
            [0x5B, 0xFF, 0x5D], // outside a string
            [0x5B, 0x31, 0x5D, 0xFE], // after the value
            [0x7B, 0x7D, 0x20, 0x5B, 0xC3, 0x28], // reported as UTF-8 though the first error is structure
        ]
        for b in bad { #expect(error(b) == .invalidUTF8, "\(b)") }
        #expect(throws: Never.self) { try parseBytes([0x22, 0xF4, 0x8F, 0xBF, 0xBF, 0x22]) } // U+10FFFF
        #expect(throws: Never.self) { try parseBytes([0x22, 0xEF, 0xBF, 0xBF, 0x22]) } // U+FFFF
    }

    @Test func longStringsCrossTheEightByteFastPath() throws {
        for n in 0 ..< 40 {
            let plain = String(repeating: "a", count: n)
            #expect(try JSON.parse("\"\(plain)\"") == .string(plain))
            for (written, meant) in [("\\n", "\n"), ("é", "é"), ("\\u0000", "\u{0}"), ("\\\"", "\""), ("\\ud83d\\ude00", "😀")] {
                #expect(try JSON.parse("\"\(plain)\(written)\(plain)\"") == .string(plain + meant + plain))
            }
            #expect(error(Array("\"\(plain)".utf8) + [0x01] + Array("\(plain)\"".utf8)) == .syntax("control character 0x1 in a string (it must be escaped)", offset: 1 + n))
        }
    }

    // MARK: numbers

    @Test func integersAreExactAtTheEdges() throws {
        #expect(try JSON.parse("[0, -0, 1, -1]") == .array([.int(0), .int(0), .int(1), .int(-1)]))
        #expect(try JSON.parse("9223372036854775807") == .int(Int64.max))
        #expect(try JSON.parse("-9223372036854775808") == .int(Int64.min))
        #expect(try JSON.parse("9223372036854775808") == .uint(UInt64(Int64.max) + 1))
        #expect(try JSON.parse("18446744073709551615") == .uint(UInt64.max))
        // Past UInt64: still a number, as the nearest double.
        #expect(try JSON.parse("18446744073709551616") == .double(18446744073709551616))
        #expect(try JSON.parse("-9223372036854775809") == .double(-9223372036854775809))
    }

    @Test func fractionsAndExponentsAreDoubles() throws {
        #expect(try JSON.parse("[1.5, -0.25, 1e3, 1E+3, 2e-2, 0.0, 1.0, 10.5e1]") == .array([
            .double(1.5), .double(-0.25), .double(1000), .double(1000), .double(0.02), .double(0), .double(1), .double(105),
        ]))
        #expect(try JSON.parse("1e-400") == .double(0)) // underflow reads as zero
        #expect(try JSON.parse("1.7976931348623157e308") == .double(.greatestFiniteMagnitude))
        #expect(try JSON.parse("0.1") == .double(0.1))
    }

    /// What has no finite double value cannot be read back or written again: refused, as
    /// serde_json does (json-c reads infinity; found by FuzzJSON with " 1e309").
    @Test func numbersPastTheDoubleRangeAreRefused() {
        #expect(error(" 1e309") == .syntax("number out of range", offset: 1))
        #expect(error("[-1e400]") == .syntax("number out of range", offset: 1))
        #expect(error("[1.8e308]") == .syntax("number out of range", offset: 1))
        #expect(error("[1" + String(repeating: "0", count: 400) + "]") == .syntax("number out of range", offset: 1))
        #expect(throws: Never.self) { try JSON.parse("[1" + String(repeating: "0", count: 300) + "]") }
    }

    @Test func numbersOutsideTheGrammarAreRefused() {
        for bad in ["01", "-01", "00", "1.", "1.e3", "1e", "1e+", "-", "--1", "0x10", "1_000", "1.2.3", "[1.5e]", "[-]", "[1e5.5]", "1ee2"] {
            let e = error(bad)
            switch e {
            case .syntax("invalid number", _), .truncated: continue
            default: Issue.record("\(bad): \(String(describing: e))")
            }
        }
        #expect(error("[01]") == .syntax("invalid number", offset: 1))
        #expect(error("+1") == .syntax("expected a value, found '+'", offset: 0))
        #expect(error("[.5]") == .syntax("expected a value, found '.'", offset: 1))
        #expect(error("[-a]") == .syntax("invalid number", offset: 1))
    }

    // MARK: depth and size

    @Test func nestingStopsAtTheLimit() throws {
        let ok = String(repeating: "[", count: JSON.maxDepth) + String(repeating: "]", count: JSON.maxDepth)
        #expect(throws: Never.self) { try JSON.parse(ok) }
        let objects = String(repeating: #"{"a":"#, count: JSON.maxDepth) + "1" + String(repeating: "}", count: JSON.maxDepth)
        #expect(throws: Never.self) { try JSON.parse(objects) }
        let over = String(repeating: "[", count: JSON.maxDepth + 1) + String(repeating: "]", count: JSON.maxDepth + 1)
        #expect(error(over) == .tooDeep(limit: JSON.maxDepth))
        #expect(error(String(repeating: "[", count: 1_000_000)) == .tooDeep(limit: JSON.maxDepth))
        #expect(error(String(repeating: "[{\"a\":", count: 40)) == .tooDeep(limit: JSON.maxDepth))
    }

    @Test func textsOverTheSizeLimitAreRefusedUnread() {
        // The size is checked before any byte is read, so a buffer that claims more than it
        // holds is safe here.
        var one: UInt8 = 0x5B
        let e = withUnsafeBytes(of: &one) { b -> JSONError? in
            let claimed = UnsafeRawBufferPointer(start: b.baseAddress, count: JSON.maxTextSize + 1)
            do throws(JSONError) { _ = try JSON.parseTree(claimed); return nil } catch { return error }
        }
        #expect(e == .tooLarge(size: JSON.maxTextSize + 1, limit: JSON.maxTextSize))
    }

    // MARK: duplicate keys

    @Test func duplicateKeysAreFoundAtEveryDepthAndSize() {
        #expect(error(#"{"a": 1, "a": 2}"#) == .duplicateKey("a", depth: 1))
        #expect(error(#"{"a": 1, "\u0061": 2}"#) == .duplicateKey("a", depth: 1))
        #expect(error(#"{"\/": 1, "/": 2}"#) == .duplicateKey("/", depth: 1))
        #expect(error(#"{"é": 1, "\u00e9": 2}"#) == .duplicateKey("é", depth: 1))
        // Depth counts arrays too: the repeat is inside array > object > array > object.
        #expect(error(#"[{"x": [{"k": 1, "j": 0, "k": 1}]}]"#) == .duplicateKey("k", depth: 4))
        #expect(error(#"{"x": {"y": {"z": {"": 1, "": 2}}}}"#) == .duplicateKey("", depth: 4))
        #expect(throws: Never.self) { try JSON.parse(#"{"x": {"k": 1}, "y": {"k": 1}, "k": {"k": {"k": 0}}}"#) }
        // Large objects go through the hash table: a repeat anywhere in 5,000 keys is found.
        for dup in [1, 2, 999, 4999] {
            var members = (0 ..< 5000).map { #""key\#($0)": \#($0)"# }
            members.append(#""key\#(dup)": 0"#)
            #expect(error("{" + members.joined(separator: ",") + "}") == .duplicateKey("key\(dup)", depth: 1))
            // Escaped spellings of the same key collide in the table too.
            members[members.count - 1] = #""\u006bey\#(dup)": 0"#
            #expect(error(#"{"o": {"# + members.joined(separator: ",") + "}}") == .duplicateKey("key\(dup)", depth: 2))
        }
        let distinct = (0 ..< 5000).map { #""key\#($0)": [\#($0)]"# }.joined(separator: ",")
        #expect(throws: Never.self) { try JSON.parse("{" + distinct + "}") }
    }

    @Test func theFirstRepeatIsReported() {
        #expect(error(#"{"b": 1, "a": 1, "a": 2, "b": 2}"#) == .duplicateKey("a", depth: 1))
        let many = (0 ..< 100).map { #""k\#($0)": 0"# } + [#""k7": 1"#, #""k3": 1"#]
        #expect(error("{" + many.joined(separator: ",") + "}") == .duplicateKey("k7", depth: 1))
    }
}
