import LatteCore

/// Reads `.safetensors` files: an 8-byte little-endian header length, a JSON header
/// (parsed strictly by `JSON.parseTree`), then the tensors' bytes, packed in header-offset order.
///
/// Every rule of the reference implementation is checked before a tensor is exposed;
/// the data itself stays in the memory map.
public enum SafetensorsReader {
    /// The reference implementation's limit on the header's size.
    public static let maxHeaderSize = TensorRules.maxSafetensorsHeaderSize

    /// Most dimensions a tensor may have (`TensorRules.maxRank`, what the writers and the
    /// `.latte` reader allow). Checked before a shape is materialized.
    public static let maxRank = TensorRules.maxRank

    /// The parsed header of one file.
    public struct Header: Sendable {
        public var metadata: [String: String]
        /// Tensors in data-offset order, offsets absolute in the file.
        public var tensors: [TensorEntry]
        /// Byte offset where the data section begins (8 + header length).
        public var dataStart: Int
    }

    /// Opens a single safetensors file.
    public static func open(path: String, configPath: String? = nil) throws -> Checkpoint {
        try open(region: MappedFile(path: path), configPath: configPath)
    }

    /// Reads safetensors bytes already mapped (once, by `CheckpointReader.detect`) or in
    /// memory (`MemoryRegion`); errors name `region.path`. Tensors are slices of the region.
    public static func open(region: any ByteRegion, configPath: String? = nil) throws -> Checkpoint {
        let header = try header(of: region, fileIndex: 0)
        return Checkpoint(format: .safetensors, files: [region], metadata: header.metadata,
                          tensors: header.tensors, configPath: configPath)
    }

    /// The checked header of a mapped file, tensors numbered as file `fileIndex`: the
    /// reader's entry point, whose errors are `LocatedError`s naming the file.
    public static func header(of file: any ByteRegion, fileIndex: Int) throws -> Header {
        do { return try parseHeader(in: file, fileIndex: fileIndex) } catch { throw LocatedError(path: file.path, error) }
    }

    /// Parses and validates the header and layout of the safetensors bytes `data` (the JSON
    /// tree reads a copy of the header).
    public static func parseHeader(_ data: UnsafeRawBufferPointer, fileIndex: Int) throws(SafetensorsError) -> Header {
        try parseHeader(data, fileIndex: fileIndex) { (text, _) throws(JSONError) in try JSON.parseTree(text) }
    }

    /// Parses and validates the header and layout of a mapped safetensors file (or any byte
    /// region), the header read in place (no copy: 100 MB less at the 100 MB limit).
    public static func parseHeader(in file: any ByteRegion, fileIndex: Int) throws(SafetensorsError) -> Header {
        try parseHeader(file.bytes, fileIndex: fileIndex) { (_, range) throws(JSONError) in try JSON.parseTree(in: file, range: range) }
    }

    private static func parseHeader(
        _ data: UnsafeRawBufferPointer, fileIndex: Int,
        tree parse: (UnsafeRawBufferPointer, Range<Int>) throws(JSONError) -> JSONTree
    ) throws(SafetensorsError) -> Header {
        guard data.count >= 8 else { throw .fileTooSmall(size: data.count) }
        let declared = data.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard declared <= UInt64(maxHeaderSize) else { throw .headerTooLarge(declared: declared, limit: maxHeaderSize) }
        let n = Int(declared)
        guard n <= data.count - 8 else { throw .headerOutsideFile(declared: declared, fileSize: data.count) }
        let text = UnsafeRawBufferPointer(rebasing: data[8 ..< 8 + n])
        // The tree (its tape, and its copy of the text if any) is gone before the entries are built.
        let (metadata, raw) = try readEntries { () throws(JSONError) in try parse(text, 8 ..< 8 + n) }

        // The reference sorts by (begin, end) and requires each tensor to start where the
        // previous ended; a tensor name's position in the JSON does not matter.
        let order = raw.indices.sorted { (raw[$0].begin, raw[$0].end) < (raw[$1].begin, raw[$1].end) }
        let dataStart = 8 + n
        var expectedBegin = 0
        var tensors: [TensorEntry] = []
        tensors.reserveCapacity(raw.count)
        for i in order {
            let t = raw[i]
            let shape = t.shape
            guard t.begin == expectedBegin else {
                throw .offsetsNotContiguous(tensor: t.name, expectedBegin: expectedBegin, found: t.begin)
            }
            guard let count = elementCount(of: shape) else { throw .badShape(tensor: t.name, reason: "element count overflows") }
            let needed = t.dtype.byteCount(elements: count)
            guard needed == t.end - t.begin else {
                throw .sizeMismatch(tensor: t.name, dtype: t.dtype, shape: shape, expected: needed, found: t.end - t.begin)
            }
            tensors.append(TensorEntry(name: t.name, dtype: t.dtype, shape: shape, file: fileIndex,
                                       storageOffset: dataStart + t.begin, storageLength: t.end - t.begin,
                                       storageKey: t.name))
            expectedBegin = t.end
        }
        let available = data.count - dataStart
        guard expectedBegin == available else { throw .dataSizeMismatch(expected: expectedBegin, found: available) }
        return Header(metadata: metadata, tensors: tensors, dataStart: dataStart)
    }

    /// A tensor as its header entry describes it, before the layout is checked.
    private struct RawEntry {
        var name: String
        var dtype: DType
        var shape: [Int]
        var begin: Int
        var end: Int
    }

    /// Distinct shapes shared between entries: real checkpoints have a few dozen, so 10^6
    /// tensors need not hold 10^6 copies. Bounded, so a header of distinct shapes costs no more.
    static let sharedShapes = 256

    /// Parses the header text and checks each entry on its own (names, dtype, shape, offsets).
    private static func readEntries(
        _ parse: () throws(JSONError) -> JSONTree
    ) throws(SafetensorsError) -> (metadata: [String: String], entries: [RawEntry]) {
        let tree: JSONTree
        do {
            tree = try parse()
        } catch .invalidUTF8 {
            throw .headerNotUTF8
        } catch let .duplicateKey(name, depth) where depth == 1 {
            throw .duplicateTensor(name)
        } catch {
            throw .headerNotJSON(error)
        }
        let root = tree.root
        guard root.isObject else { throw .headerNotObject(found: root.typeName) }

        var metadata: [String: String] = [:]
        var raw: [RawEntry] = []
        raw.reserveCapacity(root.count)
        var shapes: [[Int]: [Int]] = [:]
        try root.forEachMember { (key, value) throws(SafetensorsError) in
            let name = key.string
            if key.equals("__metadata__") {
                guard value.isObject else { throw .metadataNotObject(found: value.typeName) }
                try value.forEachMember { (k, v) throws(SafetensorsError) in
                    let key = k.string
                    guard !key.utf8.contains(0) else { throw .metadataKeyHasNUL(key: key) }
                    guard let s = v.string else { throw .metadataValueNotString(key: key, found: v.typeName) }
                    guard !s.utf8.contains(0) else { throw .metadataValueHasNUL(key: key) }
                    metadata[key] = s
                }
                return
            }
            // As the reference implementation: a NUL cannot be part of a name (C APIs, and
            // json-c before us, cut the name there, merging "a\u0000x" with "a\u0000y").
            guard !name.utf8.contains(0) else { throw .nameHasNUL(tensor: name) }
            guard value.isObject else { throw .entryNotObject(tensor: name) }
            var dtypeNode: JSONNode?, shapeNode: JSONNode?, offsetsNode: JSONNode?
            value.forEachMember { f, v in
                if f.equals("dtype") { dtypeNode = v }
                else if f.equals("shape") { shapeNode = v }
                else if f.equals("data_offsets") { offsetsNode = v }
                // Other fields are ignored, as the reference implementation does.
            }
            guard let dtypeNode else { throw .missingField(tensor: name, field: "dtype") }
            guard let shapeNode else { throw .missingField(tensor: name, field: "shape") }
            guard let offsetsNode else { throw .missingField(tensor: name, field: "data_offsets") }
            guard let dtypeName = dtypeNode.string else { throw .unknownDType(tensor: name, dtype: "<\(dtypeNode.typeName)>") }
            guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
            var shape = try parseShape(shapeNode, tensor: name)
            if let known = shapes[shape] { shape = known } else if shapes.count < sharedShapes { shapes[shape] = shape }
            guard offsetsNode.isArray, offsetsNode.count == 2 else {
                throw .badOffsets(tensor: name, reason: "expected an array of two integers")
            }
            guard let b64 = offsetsNode[0].int64, let e64 = offsetsNode[1].int64, b64 >= 0, e64 >= 0 else {
                throw .badOffsets(tensor: name, reason: "offsets must be non-negative integers")
            }
            let begin = Int(b64), end = Int(e64)
            guard end >= begin else { throw .endBeforeBegin(tensor: name, begin: begin, end: end) }
            raw.append(RawEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        return (metadata, raw)
    }

    /// Reads a shape: an array of at most `maxRank` non-negative integers. The rank is
    /// checked first, so a header that lists 50 million dimensions costs its tape and no more.
    private static func parseShape(_ v: JSONNode, tensor: String) throws(SafetensorsError) -> [Int] {
        guard v.isArray else { throw .badShape(tensor: tensor, reason: "expected an array, found \(v.typeName)") }
        guard v.count <= maxRank else { throw .badShape(tensor: tensor, reason: "rank \(v.count) is over the limit of \(maxRank) dimensions") }
        var shape: [Int] = []
        shape.reserveCapacity(v.count)
        for (i, d) in v.elements.enumerated() {
            guard let x = d.int64 else {
                guard let text = d.numberText else { throw .badShape(tensor: tensor, reason: "dimension \(i) is \(d.typeName), not an integer") }
                if d.isInteger { throw .badShape(tensor: tensor, reason: "dimension \(text) is too large") }
                throw .badShape(tensor: tensor, reason: "dimension \(text) is not an integer")
            }
            guard x >= 0 else { throw .badShape(tensor: tensor, reason: "negative dimension \(x)") }
            shape.append(Int(x))
        }
        return shape
    }
}
