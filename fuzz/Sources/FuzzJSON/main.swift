import Foundation
import FuzzSupport
import LatteCore
import LatteJSONOracle

// Differential: our parser against json-c in strict mode (LatteJSONOracle), an independent
// implementation. Same verdict on every valid UTF-8 text, but for json-c's known deviations
// (below); same value when both accept; the tree agrees with the value; whatever we accept
// serializes and parses back to itself. A text that is not UTF-8 must be refused.
//
// json-c shares some of the bugs we fixed (it cuts keys at NUL, accepts lone surrogates), so a
// second oracle watches strings: whatever we accept, Foundation's JSONSerialization accepts
// too, with the same strings, keys and values, exactly (scalar by scalar). It refuses lone
// surrogates and keeps NUL; it accepts "[1,]" and merges repeated keys, which we refuse, so
// it is consulted only for texts we accept.
//
// json-c's known deviations (checked one by one in Tests/LatteCoreTests/JSONOracleTests.swift):
// it accepts repeated keys, unpaired surrogate escapes, raw control characters in strings,
// NaN / Infinity, single-quoted strings and numbers that strtod reads but RFC 8259 does not
// ("1.", "-.5", "09.5"); it reads numbers past the double range as infinity; it cuts keys at
// an escaped NUL; it saturates integers past 64 bits instead of reading them as numbers; it
// decodes some valid surrogate pairs to U+FFFD.

/// Whether our refusal of a text json-c accepts is one of json-c's known deviations.
func knownDeviation(_ error: JSONError, _ text: UnsafeRawBufferPointer) -> Bool {
    switch error {
    case .duplicateKey: return true
    case .truncated:
        // "444444.": a number json-c reads, at the very end of the text.
        var start = text.count
        while start > 0, isNumberByte(text[start - 1]) { start -= 1 }
        return start < text.count && readsAsNumber(text, from: start)
    case let .syntax(message, offset):
        if message.hasPrefix("unpaired surrogate") || message.hasPrefix("control character") || message == "number out of range" { return true }
        guard offset < text.count else { return false }
        // NaN, Infinity, -Infinity and 'single quotes' start at the byte we refused.
        if [UInt8(ascii: "N"), UInt8(ascii: "I"), UInt8(ascii: "'")].contains(text[offset]) { return true }
        if offset + 1 < text.count, text[offset] == UInt8(ascii: "-"), text[offset + 1] == UInt8(ascii: "I") { return true }
        // "09.5", "1.", "-.5": json-c reads any token that strtod reads whole.
        if message == "invalid number", readsAsNumber(text, from: offset) { return true }
        return false
    default: return false
    }
}

/// The run of number bytes at `start` is a number for strtod (`Double(_:)`), as for json-c.
func readsAsNumber(_ text: UnsafeRawBufferPointer, from start: Int) -> Bool {
    var end = start
    while end < text.count, isNumberByte(text[end]) { end += 1 }
    return Double(String(decoding: UnsafeRawBufferPointer(rebasing: text[start ..< end]), as: UTF8.self)) != nil
}

func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

func isNumberByte(_ c: UInt8) -> Bool {
    isDigit(c) || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(c)
}

/// `ours` and json-c's `theirs` are the same value, allowing for json-c's cut keys and
/// saturated integers.
func agree(_ ours: JSONValue, _ theirs: JSONValue) -> Bool {
    switch (ours, theirs) {
    case let (.array(a), .array(b)):
        return a.count == b.count && zip(a, b).allSatisfy(agree)
    case let (.object(a), .object(b)):
        let cut = a.map { (String($0.0.unicodeScalars.prefix { $0 != "\u{0}" }), $0.1) }
        // Keys equal once cut were merged by json-c: nothing left to compare member by member.
        if Set(cut.map(\.0)).count < cut.count { return true }
        return cut.count == b.count && zip(cut, b).allSatisfy { stringsAgree($0.0, $1.0) && agree($0.1, $1.1) }
    case let (.string(a), .string(b)): return stringsAgree(a, b)
    case let (.double(x), .uint(u)) where u == UInt64.max: return x >= 18446744073709551615
    case let (.double(x), .int(i)) where i == Int64.min: return x <= -9223372036854775808
    default:
        return ours == theirs
    }
}

/// Every string of a value, keys and values, as scalar arrays in a canonical order (Foundation's
/// objects are unordered dictionaries).
func strings(of v: JSONValue) -> [[UInt32]] {
    var out: [[UInt32]] = []
    func walk(_ v: JSONValue) {
        switch v {
        case let .string(s): out.append(s.unicodeScalars.map(\.value))
        case let .array(items): items.forEach(walk)
        case let .object(members): for (k, x) in members { out.append(k.unicodeScalars.map(\.value)); walk(x) }
        default: break
        }
    }
    walk(v)
    return out.sorted { $0.lexicographicallyPrecedes($1) }
}

func strings(ofFoundation v: Any) -> [[UInt32]] {
    var out: [[UInt32]] = []
    func walk(_ v: Any) {
        if let s = v as? String { out.append(s.unicodeScalars.map(\.value)) }
        else if let a = v as? [Any] { a.forEach(walk) }
        else if let d = v as? [String: Any] { for (k, x) in d { out.append(k.unicodeScalars.map(\.value)); walk(x) } }
    }
    walk(v)
    return out.sorted { $0.lexicographicallyPrecedes($1) }
}

/// A failed check, with its message (`precondition` drops messages in release builds).
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError(message()) }
}

/// json-c 0.16 decodes some valid surrogate pairs (`\ud876\udf32`, U+2DB32) to U+FFFD:
/// its string may hold U+FFFD where ours holds a character above U+FFFF.
func stringsAgree(_ ours: String, _ theirs: String) -> Bool {
    let a = Array(ours.unicodeScalars), b = Array(theirs.unicodeScalars)
    return a.count == b.count && zip(a, b).allSatisfy { $0 == $1 || ($1 == "\u{FFFD}" && $0.value > 0xFFFF) }
}

runFuzzer { bytes in
    let ours: Result<JSONValue, JSONError> = Result { () throws(JSONError) in try JSON.parse(bytes) }
    let theirs = JSONCOracle.parse(bytes)
    let isUTF8 = String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil

    // The tree view reads the same text to the same value or the same error, with a tape of
    // at most 8 bytes per 2 bytes of text (JSONTree's memory bound).
    let tree: Result<JSONTree, JSONError> = Result { () throws(JSONError) in try JSON.parseTree(bytes) }
    switch (ours, tree) {
    case let (.success(a), .success(t)):
        check(a == t.root.value, "the tree and the value differ")
        check(t.tapeCount * 8 <= 4 * bytes.count + 8, "a tape of \(t.tapeCount) words for \(bytes.count) bytes of text")
    case let (.failure(a), .failure(b)): check(a == b, "the tree and the value fail differently: \(a) / \(b)")
    default: fatalError("the tree and the value disagree on accepting the text")
    }

    switch ours {
    case let .success(v):
        check(isUTF8, "accepted a text that is not UTF-8")
        check(theirs != nil, "accepted what json-c refuses")
        check(agree(v, theirs!), "read a different value than json-c: \(v) / \(theirs!)")
        let again = try? JSON.parse(v.serialized())
        check(again == v, "serialized JSON did not parse back to the same value")
        let foundation = try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
        check(foundation != nil, "accepted what Foundation refuses")
        check(strings(of: v) == strings(ofFoundation: foundation!), "read different strings than Foundation")
    case let .failure(error):
        if isUTF8, theirs != nil {
            check(knownDeviation(error, bytes), "refused what json-c accepts, for no known reason: \(error)")
        }
    }
}
