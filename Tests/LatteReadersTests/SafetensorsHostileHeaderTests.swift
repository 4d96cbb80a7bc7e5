import Testing
import LatteCore
@testable import LatteReaders

private func refusal(_ header: String, data: [UInt8] = []) -> SafetensorsError? {
    do { _ = try parse(safetensorsBytes(header: header, data: data)); return nil } catch { return error }
}

private func entry(_ name: String, shape: String = "[0]", dtype: String = "U8") -> String {
    #""\#(name)": {"dtype": "\#(dtype)", "shape": \#(shape), "data_offsets": [0, 0]}"#
}

/// Headers crafted against the reader: names that C strings or terminals would misread,
/// shapes that would cost memory out of proportion, numbers past every integer type.
@Suite struct SafetensorsHostileHeaderTests {
    // MARK: names

    @Test func aNULInANameIsRefusedNotCut() {
        #expect(refusal("{" + entry(#"a\u0000x"#) + "}") == .nameHasNUL(tensor: "a\u{0}x"))
        // json-c cut both names to "a" and kept one tensor; the reference refuses the file.
        let merged = "{" + entry(#"a\u0000x"#) + "," + entry(#"a\u0000y"#) + "}"
        #expect(refusal(merged) == .nameHasNUL(tensor: "a\u{0}x"))
        #expect(refusal("{" + entry(#"\u0000"#) + "}") == .nameHasNUL(tensor: "\u{0}"))
        #expect(SafetensorsError.nameHasNUL(tensor: "a\u{0}x").description == #"tensor 'a\0x': the name contains a NUL character"#)
    }

    @Test func aNULInMetadataIsRefused() {
        #expect(refusal(#"{"__metadata__": {"k\u0000": "v"}}"#) == .metadataKeyHasNUL(key: "k\u{0}"))
        #expect(refusal(#"{"__metadata__": {"k": "v\u0000w"}}"#) == .metadataValueHasNUL(key: "k"))
        #expect(SafetensorsError.metadataKeyHasNUL(key: "k\u{0}").description == #"__metadata__ key 'k\0' contains a NUL character"#)
    }

    @Test func loneSurrogatesAreRefusedWithTheirOffset() {
        let high = JSONError.syntax("unpaired surrogate \\uD800 (a high surrogate without a low one)", offset: 2)
        #expect(refusal("{" + entry(#"\ud800"#) + "}") == .headerNotJSON(high))
        #expect(refusal("{" + entry(#"\udc00"#) + "}") == .headerNotJSON(.syntax("unpaired surrogate \\uDC00 (a low surrogate without a high one)", offset: 2)))
        #expect(refusal(#"{"__metadata__": {"k": "\ud83d"}}"#) == .headerNotJSON(.syntax("unpaired surrogate \\uD83D (a high surrogate without a low one)", offset: 24)))
        // A proper pair is a character like any other.
        #expect(throws: Never.self) { try parse(safetensorsBytes(header: "{" + entry(#"\ud83d\ude00"#) + "}", data: [])) }
    }

    @Test func namesReachMessagesEscaped() throws {
        let clear = "\u{1B}[2J\u{1B}[H"
        let e = try #require(refusal("{" + entry(#"\u001b[2J\u001b[H"#, dtype: "F12") + "}"))
        #expect(e == .unknownDType(tensor: clear, dtype: "F12"))
        #expect(e.description == #"tensor '\x1b[2J\x1b[H': unknown dtype 'F12'"#)
        #expect(!e.description.utf8.contains(0x1B))
        // C1 controls (U+009B is a one-byte CSI), DEL and bidi overrides too.
        let sneaky = try #require(refusal("{" + entry(#"a\u009b31mb\u007f\u202ec\nd"#, dtype: "F12") + "}"))
        #expect(sneaky.description == #"tensor 'a\u{9b}31mb\x7f\u{202e}c\nd': unknown dtype 'F12'"#)
        let dtype = try #require(refusal("{" + entry("t", dtype: #"\u001b]0;pwned\u0007"#) + "}"))
        #expect(dtype.description == #"tensor 't': unknown dtype '\x1b]0;pwned\x07'"#)
        let dup = try #require(refusal("{" + entry(#"\u001b"#) + "," + entry(#"\u001b"#) + "}"))
        #expect(dup == .duplicateTensor("\u{1B}"))
        #expect(dup.description == #"tensor '\x1b' appears twice in the header"#)
    }

    @Test func unicodeNamesAreKept() throws {
        let h = try parse(safetensorsBytes(header: "{" + entry("poids.é") + "," + entry(#"\u4e2d.😀"#) + "}", data: []))
        #expect(Set(h.tensors.map(\.name)) == ["poids.é", "中.😀"])
    }

    @Test func escapedSpellingsOfOneNameAreOneTensorTwice() {
        #expect(refusal("{" + entry("ab") + "," + entry(#"\u0061b"#) + "}") == .duplicateTensor("ab"))
    }

    // MARK: shapes

    @Test func rankIsBoundedBeforeTheShapeIsBuilt() throws {
        let rank64 = "[" + Array(repeating: "1", count: 64).joined(separator: ",") + "]"
        let h = try parse(safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": \#(rank64), "data_offsets": [0, 1]}}"#, data: [0]))
        #expect(h.tensors[0].shape.count == 64)
        let rank65 = "[" + Array(repeating: "1", count: 65).joined(separator: ",") + "]"
        #expect(refusal(#"{"t": {"dtype": "U8", "shape": \#(rank65), "data_offsets": [0, 1]}}"#, data: [0])
            == .badShape(tensor: "t", reason: "rank 65 is over the limit of 64 dimensions"))
        // A million dimensions, every one of them invalid: the rank alone refuses it.
        let huge = "[" + Array(repeating: "-1", count: 1_000_000).joined(separator: ",") + "]"
        #expect(refusal("{" + entry("t", shape: huge) + "}") == .badShape(tensor: "t", reason: "rank 1000000 is over the limit of 64 dimensions"))
    }

    @Test func dimensionsPastInt64AreTooLargeNotGarbage() {
        #expect(refusal("{" + entry("t", shape: "[9223372036854775808]") + "}") == .badShape(tensor: "t", reason: "dimension 9223372036854775808 is too large"))
        #expect(refusal("{" + entry("t", shape: "[184467440737095516160000]") + "}") == .badShape(tensor: "t", reason: "dimension 184467440737095516160000 is too large"))
        #expect(refusal("{" + entry("t", shape: "[1e3]") + "}") == .badShape(tensor: "t", reason: "dimension 1e3 is not an integer"))
        #expect(refusal("{" + entry("t", shape: "[\"4\"]") + "}") == .badShape(tensor: "t", reason: "dimension 0 is a string, not an integer"))
        #expect(refusal(#"{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 18446744073709551616]}}"#)
            == .badOffsets(tensor: "t", reason: "offsets must be non-negative integers"))
    }

    // MARK: many tensors

    /// 100,000 empty tensors (a tenth of the CLI's hostile case): every one read, in offset order.
    @Test func manyEmptyTensorsAreReadInOrder() throws {
        let n = 100_000
        let entries = (0 ..< n).map { #""t\#($0)":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}"# }
        let h = try parse(safetensorsBytes(header: "{" + entries.joined(separator: ",") + "}", data: []))
        #expect(h.tensors.count == n)
        #expect(h.tensors.allSatisfy { $0.shape == [0] && $0.storageLength == 0 })
    }
}
