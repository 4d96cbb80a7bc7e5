import Foundation
import Testing
@testable import LatteCore

private func tree(_ text: String) throws -> JSONTree {
    let bytes = Array(text.utf8)
    return try bytes.withUnsafeBytes { try JSON.parseTree($0) }
}

/// The borrowed view over the tape: reads in place, agrees with `JSONValue`, never dangles.
@Suite struct JSONTreeTests {
    static let sample = #"{"name": "a\u0000b", "n": 42, "big": 18446744073709551615, "f": 2.5, "t": true, "z": null, "#
        + #""shape": [3, 4, 5], "nested": [[1], {"k": "v"}, "s"], "o": {"x": {"y": []}}}"#

    @Test func nodesAgreeWithTheValue() throws {
        let t = try tree(Self.sample)
        let root = t.root
        #expect(root.value == (try JSON.parse(Self.sample)))
        #expect(root.isObject && root.count == 9)
        #expect(root["name"]?.string == "a\u{0}b")
        #expect(root["name"]?.stringEquals("a\u{0}b") == true)
        #expect(root["name"]?.stringEquals("a") == false)
        #expect(root["n"]?.int64 == 42 && root["n"]?.intValue == 42 && root["n"]?.isInteger == true)
        #expect(root["big"]?.int64 == nil && root["big"]?.uint64 == UInt64.max && root["big"]?.typeName == "an integer")
        #expect(root["f"]?.doubleValue == 2.5 && root["f"]?.int64 == nil && root["f"]?.typeName == "a number")
        #expect(root["f"]?.numberText == "2.5")
        #expect(root["t"]?.boolValue == true && root["z"]?.isNull == true)
        #expect(root["missing"] == nil)
        #expect(root["shape"]?.elements.map { $0.int64! } == [3, 4, 5])
        #expect(root["shape"]?[2].int64 == 5)
        let nested = root["nested"]!
        #expect(nested.count == 3 && nested[0][0].int64 == 1 && nested[1]["k"]?.string == "v" && nested[2].string == "s")
        #expect(root["o"]?["x"]?["y"]?.isArray == true && root["o"]?["x"]?["y"]?.count == 0)
        #expect(root.members.map(\.key.string) == ["name", "n", "big", "f", "t", "z", "shape", "nested", "o"])
        var keys: [String] = []
        root.forEachMember { k, _ in keys.append(k.string) }
        #expect(keys == root.members.map(\.key.string))
        #expect(root.members.first { $0.key.equals("shape") }?.value.count == 3)
    }

    @Test func sameStringComparesDecodedBytes() throws {
        let t = try tree(#"["shard-1", "shard\u002d1", "shard-2", 1]"#)
        let r = t.root
        #expect(r[0].sameString(as: r[1]) && r[1].sameString(as: r[0]))
        #expect(!r[0].sameString(as: r[2]) && !r[0].sameString(as: r[3]))
    }

    @Test func nodesKeepTheirTreeAlive() throws {
        // The tree itself goes out of scope at once; its nodes must still read valid memory
        // (run under AddressSanitizer this would catch a use after free).
        func nodes() throws -> (JSONNode, JSONNode, JSONKey) {
            let t = try tree(#"{"weight": {"dtype": "F32", "shape": [1024, 1024]}}"#)
            var members = t.root.members.makeIterator()
            let m = members.next()!
            return (m.value["dtype"]!, m.value["shape"]!, m.key)
        }
        let (dtype, shape, key) = try nodes()
        _ = [UInt8](repeating: 0xAA, count: 1 << 16) // churn the heap
        #expect(dtype.string == "F32")
        #expect(shape.elements.map(\.int64) == [1024, 1024])
        #expect(key.string == "weight")
    }

    /// A tree over a mapped file reads it in place and keeps it mapped: nodes outlive every
    /// other reference to the file.
    @Test func aTreeInAMappedFileKeepsTheFileMapped() throws {
        let path = NSTemporaryDirectory() + "latte-json-tree-\(getpid()).bin"
        defer { unlink(path) }
        let text = #"{"t": {"shape": [2, 3], "name": "w\u00e9"}}"#
        try Data([1, 2, 3] + Array(text.utf8) + [0xFF]).write(to: URL(fileURLWithPath: path))
        func node() throws -> JSONNode {
            let file = try MappedFile(path: path)
            return try JSON.parseTree(in: file, range: 3 ..< 3 + text.utf8.count).root["t"]!
        }
        let t = try node()
        _ = [UInt8](repeating: 0xAA, count: 1 << 16)
        #expect(t["shape"]?.elements.map(\.int64) == [2, 3])
        #expect(t["name"]?.string == "wé")
        // The range is what is parsed: the bytes around it are not JSON.
        let file = try MappedFile(path: path)
        #expect(throws: JSONError.self) { try JSON.parseTree(in: file, range: 0 ..< file.size) }
    }

    @Test func theTreeOwnsACopyOfItsText() throws {
        var bytes = Array(#"{"k": "value"}"#.utf8)
        let t = try bytes.withUnsafeBytes { try JSON.parseTree($0) }
        for i in bytes.indices { bytes[i] = 0x20 }
        #expect(t.root["k"]?.string == "value")
    }

    /// The tape is 8 bytes per value and key, and a value takes at least two bytes of text
    /// (`0,`) outside of the last one: never more than 4x the text plus one word.
    @Test func theTapeIsBoundedByTheText() throws {
        for text in ["[" + Array(repeating: "0", count: 10_000).joined(separator: ",") + "]",
                     "{" + (0 ..< 3000).map { #""\#($0)":0"# }.joined(separator: ",") + "}",
                     "[" + Array(repeating: "[]", count: 10_000).joined(separator: ",") + "]",
                     "0", "[]", Self.sample] {
            let t = try tree(text)
            #expect(t.tapeCount * 8 <= 4 * text.utf8.count + 8, "\(t.tapeCount) words for \(text.utf8.count) bytes")
        }
    }

    @Test func scalarArraysIndexInConstantTimeAndMixedOnesByWalking() throws {
        let t = try tree("[[1, [2, 3]], 4, {\"a\": [5]}, 6]")
        let r = t.root
        #expect(r[1].int64 == 4 && r[3].int64 == 6 && r[2]["a"]?[0].int64 == 5 && r[0][1][1].int64 == 3)
    }
}
