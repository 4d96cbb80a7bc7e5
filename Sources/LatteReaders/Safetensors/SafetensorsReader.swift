import LatteCore

/// Reads `.safetensors` files: an 8-byte little-endian header length, a JSON header
/// (parsed with json-c), then the tensors' bytes, packed in header-offset order.
///
/// Every rule of the reference implementation is checked before a tensor is exposed;
/// the data itself stays in the memory map.
public enum SafetensorsReader {
    /// The reference implementation's limit on the header's size.
    public static let maxHeaderSize = 100_000_000

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
        let root: JSONValue
        do {
            root = try JSON.parse(text)
        } catch .invalidUTF8 {
            throw .headerNotUTF8
        } catch {
            throw .headerNotJSON(error)
        }
        guard case let .object(members) = root else { throw .headerNotObject(found: root.typeName) }

        var metadata: [String: String] = [:]
        var raw: [(name: String, dtype: DType, shape: [Int], begin: Int, end: Int)] = []
        raw.reserveCapacity(members.count)
        for (name, value) in members {
            if name == "__metadata__" {
                guard case let .object(kv) = value else { throw .metadataNotObject(found: value.typeName) }
                for (k, v) in kv {
                    guard let s = v.stringValue else { throw .metadataValueNotString(key: k, found: v.typeName) }
                    metadata[k] = s
                }
                continue
            }
            guard case let .object(fields) = value else { throw .entryNotObject(tensor: name) }
            var dtypeName: String?, shapeValue: JSONValue?, offsetsValue: JSONValue?
            for (f, v) in fields {
                switch f {
                case "dtype": dtypeName = v.stringValue ?? "<\(v.typeName)>"
                case "shape": shapeValue = v
                case "data_offsets": offsetsValue = v
                default: continue // the reference implementation ignores other fields
                }
            }
            guard let dtypeName else { throw .missingField(tensor: name, field: "dtype") }
            guard let shapeValue else { throw .missingField(tensor: name, field: "shape") }
            guard let offsetsValue else { throw .missingField(tensor: name, field: "data_offsets") }
            guard let dtype = DType(rawValue: dtypeName) else { throw .unknownDType(tensor: name, dtype: dtypeName) }
            let shape = try parseShape(shapeValue, tensor: name)
            guard let offs = offsetsValue.arrayValue, offs.count == 2 else {
                throw .badOffsets(tensor: name, reason: "expected an array of two integers")
            }
            guard let begin = offs[0].intValue, let end = offs[1].intValue, begin >= 0, end >= 0 else {
                throw .badOffsets(tensor: name, reason: "offsets must be non-negative integers")
            }
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
            guard t.end >= t.begin else { throw .endBeforeBegin(tensor: t.name, begin: t.begin, end: t.end) }
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

    private static func parseShape(_ v: JSONValue, tensor: String) throws(SafetensorsError) -> [Int] {
        guard let dims = v.arrayValue else { throw .badShape(tensor: tensor, reason: "expected an array, found \(v.typeName)") }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            switch d {
            case let .int(i) where i >= 0: shape.append(Int(i))
            case .int: throw .badShape(tensor: tensor, reason: "negative dimension \(d.serialized())")
            case .uint: throw .badShape(tensor: tensor, reason: "dimension \(d.serialized()) is too large")
            default: throw .badShape(tensor: tensor, reason: "dimension \(d.serialized()) is not an integer")
            }
        }
        return shape
    }
}
