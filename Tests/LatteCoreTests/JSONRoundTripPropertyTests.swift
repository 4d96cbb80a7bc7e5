import Testing
import PropertyBased
@testable import LatteCore
import LatteJSONOracle
import LatteTestSupport

/// Characters that stress a JSON string codec: escapes, controls, NUL, every UTF-8 length.
private let scalars: [Unicode.Scalar] = [
    "a", "z", "0", " ", "/", "\"", "\\", "\u{0}", "\u{1}", "\u{8}", "\u{9}", "\u{A}", "\u{C}", "\u{D}", "\u{1B}", "\u{1F}",
    "\u{7F}", "\u{80}", "é", "\u{7FF}", "\u{800}", "中", "\u{2028}", "\u{D7FF}", "\u{E000}", "\u{FFFD}", "\u{FFFF}",
    "\u{10000}", "😀", "\u{10FFFF}",
]

func randomJSONString(_ r: inout SplitMix) -> String {
    var s = String.UnicodeScalarView()
    for _ in 0 ..< r.below(r.chance(10) ? 40 : 8) { s.append(scalars[r.below(scalars.count)]) }
    return String(s)
}

func randomJSONValue(_ r: inout SplitMix, depth: Int = 0) -> JSONValue {
    let leaf = depth >= 6 || r.chance(45)
    switch leaf ? r.below(6) : 6 + r.below(2) {
    case 0: return .null
    case 1: return .bool(r.chance(50))
    case 2:
        let v = Int64(bitPattern: r.next())
        return .int(r.chance(50) ? v : v % 1000)
    case 3: return .uint(UInt64(Int64.max) + 1 + r.next() % UInt64(Int64.max))
    case 4:
        var d = Double(bitPattern: r.next())
        if !d.isFinite { d = 0.5 }
        return .double(r.chance(50) ? d : Double(r.below(2000)) / 8 - 100)
    case 5: return .string(randomJSONString(&r))
    case 6: return .array((0 ..< r.below(6)).map { _ in randomJSONValue(&r, depth: depth + 1) })
    default:
        var seen = Set<String>()
        var members: [(String, JSONValue)] = []
        for _ in 0 ..< r.below(r.chance(5) ? 40 : 6) {
            let k = randomJSONString(&r)
            guard seen.insert(k).inserted else { continue }
            members.append((k, randomJSONValue(&r, depth: depth + 1)))
        }
        return .object(members)
    }
}

/// Writes `v` as JSON in a randomly chosen legal spelling: spaces anywhere, characters
/// written as `\u` escapes (surrogate pairs above U+FFFF), `\/` for `/`, upper or lower hex.
func scrambledJSON(_ v: JSONValue, _ r: inout SplitMix) -> String {
    var out = ""
    func space() { for _ in 0 ..< (r.chance(20) ? r.below(3) : 0) { out += [" ", "\t", "\n", "\r"][r.below(4)] } }
    func hex(_ x: UInt32) -> String {
        let h = String(x, radix: 16, uppercase: r.chance(50))
        return String(repeating: "0", count: 4 - h.count) + h
    }
    func string(_ s: String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "/" where r.chance(50): out += "\\/"
            case _ where u.value < 0x20 || r.chance(15):
                if u.value > 0xFFFF {
                    let x = u.value - 0x10000
                    out += "\\u" + hex(0xD800 + (x >> 10)) + "\\u" + hex(0xDC00 + (x & 0x3FF))
                } else {
                    out += "\\u" + hex(u.value)
                }
            default: out.unicodeScalars.append(u)
            }
        }
        out += "\""
    }
    func write(_ v: JSONValue) {
        space()
        switch v {
        case let .string(s): string(s)
        case let .array(items):
            out += "["
            for (i, x) in items.enumerated() { if i > 0 { out += "," }; write(x) }
            space(); out += "]"
        case let .object(members):
            out += "{"
            for (i, (k, x)) in members.enumerated() {
                if i > 0 { out += "," }
                space(); string(k); space(); out += ":"; write(x)
            }
            space(); out += "}"
        default: out += v.serialized()
        }
        space()
    }
    write(v)
    return out
}

private func hasNULKey(_ v: JSONValue) -> Bool {
    switch v {
    case let .array(items): items.contains(where: hasNULKey)
    case let .object(members): members.contains { $0.0.utf8.contains(0) || hasNULKey($0.1) }
    default: false
    }
}

@Suite struct JSONRoundTripPropertyTests {
    /// serialize -> parse gives the value back, compact or pretty, and the tree agrees.
    @Test func serializedValuesParseBack() async {
        await propertyCheck(count: 400, input: Gen.uint64()) { seed in
            var r = SplitMix(state: seed)
            let v = randomJSONValue(&r)
            for pretty in [false, true] {
                let text = v.serialized(pretty: pretty)
                #expect((try? JSON.parse(text)) == v, "seed \(seed): \(text)")
                let bytes = Array(text.utf8)
                let fromTree = try? bytes.withUnsafeBytes { try JSON.parseTree($0).root.value }
                #expect(fromTree == v, "seed \(seed)")
            }
        }
    }

    /// Any legal spelling (escapes, surrogate pairs, spaces) decodes to the same value.
    @Test func everySpellingDecodesToTheSameValue() async {
        await propertyCheck(count: 400, input: Gen.uint64()) { seed in
            var r = SplitMix(state: seed)
            let v = randomJSONValue(&r)
            let text = scrambledJSON(v, &r)
            #expect((try? JSON.parse(text)) == v, "seed \(seed): \(text)")
        }
    }

    /// json-c reads the same texts to the same values, but for keys holding a NUL, which
    /// it cuts short (one of the reasons it no longer parses our files).
    @Test func jsonCAgreesOnWhatBothAccept() async {
        await propertyCheck(count: 400, input: Gen.uint64()) { seed in
            var r = SplitMix(state: seed)
            let v = randomJSONValue(&r)
            let text = scrambledJSON(v, &r)
            let theirs = Array(text.utf8).withUnsafeBytes { JSONCOracle.parse($0) }
            #expect(theirs != nil, "seed \(seed): json-c refused \(text)")
            if let theirs, !hasNULKey(v) { #expect(theirs == v, "seed \(seed): \(text)") }
        }
    }
}
