import Testing
import LatteCore
@testable import LatteReaders

/// Builds safetensors bytes from a header text and a data section.
func safetensorsBytes(header: String, data: [UInt8], declaredLength: UInt64? = nil) -> [UInt8] {
    let h = Array(header.utf8)
    var n = declaredLength ?? UInt64(h.count)
    var out = [UInt8](repeating: 0, count: 8)
    for i in 0 ..< 8 { out[i] = UInt8(n & 0xFF); n >>= 8 }
    return out + h + data
}

func parse(_ bytes: [UInt8]) throws(SafetensorsError) -> SafetensorsReader.Header {
    let r: Result<SafetensorsReader.Header, SafetensorsError> = bytes.withUnsafeBytes { buf in
        do throws(SafetensorsError) { return .success(try SafetensorsReader.parseHeader(buf, fileIndex: 0)) } catch { return .failure(error) }
    }
    return try r.get()
}

@Suite struct SafetensorsReaderTests {
    @Test func readsAValidHeaderWithWhitespaceAndAnyKeyOrder() throws {
        let header = #"  {"b": {"dtype": "BF16", "shape": [3], "data_offsets": [16, 22]}, "__metadata__": {"format": "pt"}, "a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}  "#
        let h = try parse(safetensorsBytes(header: header, data: Array(repeating: 1, count: 22)))
        #expect(h.tensors.map(\.name) == ["a", "b"])
        #expect(h.metadata == ["format": "pt"])
        #expect(h.tensors[1].storageOffset == 8 + header.utf8.count + 16)
        #expect(h.tensors[1].byteCount == 6)
    }

    @Test func readsEveryDType() throws {
        var entries: [String] = []
        var offset = 0
        for d in DType.allCases {
            let n = d.bitWidth < 8 ? 8 : 3
            let size = d.byteCount(elements: n)!
            entries.append(#""\#(d.name)": {"dtype": "\#(d.name)", "shape": [\#(n)], "data_offsets": [\#(offset), \#(offset + size)]}"#)
            offset += size
        }
        let h = try parse(safetensorsBytes(header: "{" + entries.joined(separator: ",") + "}", data: Array(repeating: 0, count: offset)))
        #expect(Set(h.tensors.map(\.dtype)) == Set(DType.allCases))
    }

    @Test func scalarsAndEmptyTensors() throws {
        let h = try parse(safetensorsBytes(header: #"{"s": {"dtype": "F64", "shape": [], "data_offsets": [0, 8]}, "e": {"dtype": "F32", "shape": [0, 4], "data_offsets": [8, 8]}}"#, data: Array(repeating: 0, count: 8)))
        #expect(h.tensors.map(\.shape) == [[], [0, 4]] || h.tensors.map(\.shape) == [[0, 4], []])
    }

    static let rules: [(String, [UInt8], SafetensorsError)] = [
        ("shorter than 8 bytes", [1, 2, 3], .fileTooSmall(size: 3)),
        ("header length past the file", safetensorsBytes(header: "{}", data: [], declaredLength: 50), .headerOutsideFile(declared: 50, fileSize: 10)),
        ("header length over the limit", safetensorsBytes(header: "{}", data: [], declaredLength: 100_000_001), .headerTooLarge(declared: 100_000_001, limit: 100_000_000)),
        ("header not UTF-8", [3, 0, 0, 0, 0, 0, 0, 0, 0x22, 0xFF, 0x22], .headerNotUTF8),
        ("header an array", safetensorsBytes(header: "[]", data: []), .headerNotObject(found: "an array")),
        ("metadata with a number", safetensorsBytes(header: #"{"__metadata__": {"k": 1}}"#, data: []), .metadataValueNotString(key: "k", found: "an integer")),
        ("metadata not an object", safetensorsBytes(header: #"{"__metadata__": "x"}"#, data: []), .metadataNotObject(found: "a string")),
        ("unknown dtype", safetensorsBytes(header: #"{"t": {"dtype": "F12", "shape": [1], "data_offsets": [0, 2]}}"#, data: [0, 0]), .unknownDType(tensor: "t", dtype: "F12")),
        ("negative dimension", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}"#, data: []), .badShape(tensor: "t", reason: "negative dimension -1")),
        ("float dimension", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1.5], "data_offsets": [0, 0]}}"#, data: []), .badShape(tensor: "t", reason: "dimension 1.5 is not an integer")),
        ("overflowing shape", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [4294967296, 4294967296], "data_offsets": [0, 0]}}"#, data: []), .badShape(tensor: "t", reason: "element count overflows")),
        ("offsets not from 0", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#, data: [0, 0]), .offsetsNotContiguous(tensor: "t", expectedBegin: 0, found: 1)),
        ("a gap", safetensorsBytes(header: #"{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "b": {"dtype": "U8", "shape": [1], "data_offsets": [2, 3]}}"#, data: [0, 0, 0]), .offsetsNotContiguous(tensor: "b", expectedBegin: 1, found: 2)),
        ("an overlap", safetensorsBytes(header: #"{"a": {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}, "b": {"dtype": "U8", "shape": [2], "data_offsets": [1, 3]}}"#, data: [0, 0, 0]), .offsetsNotContiguous(tensor: "b", expectedBegin: 2, found: 1)),
        ("size not elements times width", safetensorsBytes(header: #"{"t": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}"#, data: [0, 0, 0, 0]), .sizeMismatch(tensor: "t", dtype: .f32, shape: [2], expected: 8, found: 4)),
        ("sub-byte odd count", safetensorsBytes(header: #"{"t": {"dtype": "F4", "shape": [3], "data_offsets": [0, 2]}}"#, data: [0, 0]), .sizeMismatch(tensor: "t", dtype: .f4, shape: [3], expected: nil, found: 2)),
        ("trailing bytes", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}"#, data: [0, 0]), .dataSizeMismatch(expected: 1, found: 2)),
        ("missing bytes", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}"#, data: [0, 0]), .dataSizeMismatch(expected: 4, found: 2)),
        ("missing data_offsets", safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1]}}"#, data: [0]), .missingField(tensor: "t", field: "data_offsets")),
        ("entry not an object", safetensorsBytes(header: #"{"t": 3}"#, data: []), .entryNotObject(tensor: "t")),
    ]

    @Test(arguments: 0 ..< rules.count) func refusesEachRuleWithItsOwnError(_ i: Int) {
        let (name, bytes, expected) = Self.rules[i]
        #expect(throws: expected, "\(name)") { try parse(bytes) }
    }

    @Test func endBeforeBeginIsItsOwnCase() {
        let b = safetensorsBytes(header: #"{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "b": {"dtype": "U8", "shape": [0], "data_offsets": [1, 0]}}"#, data: [0])
        #expect(throws: SafetensorsError.endBeforeBegin(tensor: "b", begin: 1, end: 0)) { try parse(b) }
        let c = safetensorsBytes(header: #"{"a": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}, "b": {"dtype": "U8", "shape": [0], "data_offsets": [0, 0]}}"#, data: [])
        #expect(throws: Never.self) { try parse(c) }
        let d = safetensorsBytes(header: #"{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "b": {"dtype": "U8", "shape": [0], "data_offsets": [1, 0]}}"#, data: [0])
        #expect(throws: SafetensorsError.endBeforeBegin(tensor: "b", begin: 1, end: 0)) { try parse(d) }
    }

    @Test func extraFieldsInAnEntryAreIgnoredAsTheReferenceDoes() throws {
        let h = try parse(safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1], "layout": "strided"}}"#, data: [0]))
        #expect(h.tensors.map(\.name) == ["t"])
    }

    @Test func duplicateTensorNamesAreRefusedExplicitly() {
        let b = safetensorsBytes(header: #"{"t": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}, "t": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}"#, data: [0, 0])
        #expect(throws: SafetensorsError.duplicateTensor("t")) { try parse(b) }
    }
}
