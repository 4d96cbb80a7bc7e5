#if canImport(Glibc)
import Glibc
#endif
import LatteCore

/// Reads `.safetensors` files: an 8-byte little-endian header length, a JSON header
/// (parsed with json-c), then the tensors' bytes, packed in header-offset order.
///
/// Every rule of the reference implementation is checked before a tensor is exposed;
/// the data itself stays in the memory map.
public enum SafetensorsReader {
    /// The reference implementation's limit on the header's size.
    public static let maxHeaderSize = TensorRules.maxSafetensorsHeaderSize

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
        let file = try MappedFile(path: path)
        let header: Header
        do { header = try parseHeader(file.bytes, fileIndex: 0) } catch { throw LocatedError(path: path, error) }
        return Checkpoint(format: .safetensors, files: [file], metadata: header.metadata,
                          tensors: header.tensors, configPath: configPath)
    }

    /// Parses and validates the header and layout of the safetensors bytes `data`.
    public static func parseHeader(_ data: UnsafeRawBufferPointer, fileIndex: Int) throws(SafetensorsError) -> Header {
        guard data.count >= 8 else { throw .fileTooSmall(size: data.count) }
        let declared = data.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard declared <= UInt64(maxHeaderSize) else { throw .headerTooLarge(declared: declared, limit: maxHeaderSize) }
        let n = Int(declared)
        guard n <= data.count - 8 else { throw .headerOutsideFile(declared: declared, fileSize: data.count) }
        let text = UnsafeRawBufferPointer(rebasing: data[8 ..< 8 + n])
        let tree: JSONTree
        do {
            tree = try JSON.parseTree(text)
        } catch .invalidUTF8 {
            throw .headerNotUTF8
        } catch let .duplicateKey(name, depth) where depth == 1 {
            throw .duplicateTensor(name)
        } catch {
            throw .headerNotJSON(error)
        }
        defer { withExtendedLifetime(tree) {} }
        let root = tree.root
        guard root.isObject else { throw .headerNotObject(found: root.typeName) }

        var metadata: [String: String] = [:]
        var raw: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        raw.reserveCapacity(root.count)
        // Walks json-c's tree in place: a header of 100,000 tensors is never copied into Swift values.
        try root.forEachMember { (cName, value) throws(SafetensorsError) in
            let name = String(cString: cName)
            if name == "__metadata__" {
                guard value.isObject else { throw .metadataNotObject(found: value.typeName) }
                try value.forEachMember { (k, v) throws(SafetensorsError) in
                    guard let s = v.string else { throw .metadataValueNotString(key: String(cString: k), found: v.typeName) }
                    metadata[String(cString: k)] = s
                }
                return
            }
            guard value.isObject else { throw .entryNotObject(tensor: name) }
            var dtypeNode: JSONNode?, shapeNode: JSONNode?, offsetsNode: JSONNode?
            value.forEachMember { f, v in
                if strcmp(f, "dtype") == 0 { dtypeNode = v }
                else if strcmp(f, "shape") == 0 { shapeNode = v }
                else if strcmp(f, "data_offsets") == 0 { offsetsNode = v }
                // Other fields are ignored, as the reference implementation does.
            }
            guard let dtypeNode else { throw .missingField(tensor: name, field: "dtype") }
            guard let shapeNode else { throw .missingField(tensor: name, field: "shape") }
            guard let offsetsNode else { throw .missingField(tensor: name, field: "data_offsets") }
            guard let dtypeName = dtypeNode.string else { throw .unknownDType(tensor: name, dtype: "<\(dtypeNode.typeName)>") }
            guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
            let shape = try parseShape(shapeNode, tensor: name)
            guard offsetsNode.isArray, offsetsNode.count == 2 else {
                throw .badOffsets(tensor: name, reason: "expected an array of two integers")
            }
            guard let b64 = offsetsNode[0].int64, let e64 = offsetsNode[1].int64, b64 >= 0, e64 >= 0 else {
                throw .badOffsets(tensor: name, reason: "offsets must be non-negative integers")
            }
            let begin = Int(b64), end = Int(e64)
            guard end >= begin else { throw .endBeforeBegin(tensor: name, begin: begin, end: end) }
            raw.append((name, dtype, shape, begin, end))
        }

        // The reference sorts by (begin, end) and requires each tensor to start where the
        // previous ended; a tensor name's position in the JSON does not matter.
        let order = raw.indices.sorted { (raw[$0].begin, raw[$0].end) < (raw[$1].begin, raw[$1].end) }
        let dataStart = 8 + n
        var expectedBegin = 0
        var tensors: [TensorEntry] = []
        tensors.reserveCapacity(raw.count)
        for i in order {
            let t = raw[i]
            guard t.begin == expectedBegin else {
                throw .offsetsNotContiguous(tensor: t.name, expectedBegin: expectedBegin, found: t.begin)
            }
            guard let count = elementCount(of: t.shape) else { throw .badShape(tensor: t.name, reason: "element count overflows") }
            let needed = t.dtype.byteCount(elements: count)
            guard needed == t.end - t.begin else {
                throw .sizeMismatch(tensor: t.name, dtype: t.dtype, shape: t.shape, expected: needed, found: t.end - t.begin)
            }
            tensors.append(TensorEntry(name: t.name, dtype: t.dtype, shape: t.shape, file: fileIndex,
                                       storageOffset: dataStart + t.begin, storageLength: t.end - t.begin,
                                       storageKey: t.name))
            expectedBegin = t.end
        }
        let available = data.count - dataStart
        guard expectedBegin == available else { throw .dataSizeMismatch(expected: expectedBegin, found: available) }
        return Header(metadata: metadata, tensors: tensors, dataStart: dataStart)
    }

    private static func parseShape(_ v: JSONNode, tensor: String) throws(SafetensorsError) -> [Int] {
        guard v.isArray else { throw .badShape(tensor: tensor, reason: "expected an array, found \(v.typeName)") }
        var shape: [Int] = []
        shape.reserveCapacity(v.count)
        for i in 0 ..< v.count {
            let d = v[i]
            guard let x = d.int64 else {
                let text = d.value.serialized()
                if case .uint = d.value { throw .badShape(tensor: tensor, reason: "dimension \(text) is too large") }
                throw .badShape(tensor: tensor, reason: "dimension \(text) is not an integer")
            }
            guard x >= 0 else { throw .badShape(tensor: tensor, reason: "negative dimension \(x)") }
            shape.append(Int(x))
        }
        return shape
    }
}
