import LatteCore

/// Walks an unpickled object and lists its tensors under '.'-joined key paths, the way
/// `state_dict` keys are spelled (`state_dict.enc.w`, `layers.0`); other leaves are
/// skipped, and their paths recorded.
struct TensorCollector {
    /// Far deeper than any checkpoint; keeps the walk's recursion small.
    static let maxDepth = 256

    var tensors: [(name: String, value: TensorValue)] = []
    var skipped: [String] = []
    private var onPath = Set<ObjectIdentifier>()

    static func collect(_ root: PickleValue) throws(TorchReaderError) -> TensorCollector {
        var c = TensorCollector()
        try c.walk(root, path: "", depth: 0)
        return c
    }

    private mutating func walk(_ v: PickleValue, path: String, depth: Int) throws(TorchReaderError) {
        guard depth <= Self.maxDepth else { throw .nestingTooDeep(path: path, limit: Self.maxDepth) }
        func join(_ k: String) -> String { path.isEmpty ? k : path + "." + k }
        switch v {
        case let .tensor(t):
            tensors.append((path, t))
        case let .dict(b):
            try enter(b, path)
            for (k, item) in b.entries { try walk(item, path: join(Self.keyString(k)), depth: depth + 1) }
            onPath.remove(ObjectIdentifier(b))
        case let .list(b), let .tuple(b):
            try enter(b, path)
            for (i, item) in b.items.enumerated() { try walk(item, path: join(String(i)), depth: depth + 1) }
            onPath.remove(ObjectIdentifier(b))
        default:
            skipped.append(path)
        }
    }

    private mutating func enter(_ b: PickleBox, _ path: String) throws(TorchReaderError) {
        guard onPath.insert(ObjectIdentifier(b)).inserted else { throw .cyclicContainer(path: path) }
    }

    /// A dict key as Python's `str()` spells it.
    static func keyString(_ k: PickleValue) -> String {
        switch k {
        case let .string(s): s
        case let .int(i): String(i)
        case let .bool(b): b ? "True" : "False"
        case .none: "None"
        case let .float(d): d == d.rounded() && abs(d) < 1e16 ? "\(Int64(d)).0" : "\(d)"
        case let .bytes(b): "b'" + String(decoding: b, as: UTF8.self) + "'"
        default: "<\(k.kind)>"
        }
    }
}

/// Turns described tensors into `TensorEntry`s once their storages are located.
struct TensorEntryBuilder {
    let path: String
    let fileIndex: Int
    let byteOrder: ByteOrder

    /// Where a storage's bytes are: absolute offset and length in the file, and its key.
    struct Located {
        var offset: Int
        var length: Int
        var key: String
    }

    /// The safetensors dtype of a described tensor, or an error naming it.
    func dtype(of t: TensorValue, name: String) throws -> DType {
        if t.scalarType.isQuantized {
            throw LocatedError(path: path, tensor: name, TorchReaderError.quantizedDType(t.scalarType.rawValue))
        }
        guard let d = t.scalarType.dtype else {
            throw LocatedError(path: path, tensor: name, TorchReaderError.dtypeWithoutName(t.scalarType.rawValue))
        }
        return d
    }

    /// A checked entry: dtype named, view inside its storage.
    func entry(name: String, tensor t: TensorValue, storage: Located) throws -> TensorEntry {
        let d = try dtype(of: t, name: name)
        let e = TensorEntry(name: name, dtype: d, shape: t.size, file: fileIndex, storageOffset: storage.offset,
                            storageLength: storage.length, storageKey: storage.key, elementOffset: t.storageOffset,
                            strides: t.stride, byteOrder: byteOrder)
        do { try e.checkViewInsideStorage() } catch {
            throw LocatedError(path: path, tensor: name, TorchReaderError.badView(error))
        }
        return e
    }

    /// A meta-device tensor: shape and dtype, no storage.
    func metaEntry(name: String, tensor t: TensorValue) throws -> TensorEntry {
        let d = try dtype(of: t, name: name)
        guard t.size.count == t.stride.count, let n = elementCount(of: t.size), d.byteCount(elements: n) != nil else {
            throw LocatedError(path: path, tensor: name, TorchReaderError.badMetaShape(t.size))
        }
        return TensorEntry(name: name, dtype: d, shape: t.size, file: fileIndex, storageOffset: 0, storageLength: 0,
                           storageKey: "", elementOffset: 0, strides: t.stride, byteOrder: byteOrder, isMeta: true)
    }

    /// Builds every collected tensor, refusing two tensors with one name.
    func entries(_ tensors: [(name: String, value: TensorValue)],
                 locate: (String, StorageRef, TensorValue) throws -> Located) throws -> [TensorEntry] {
        var out: [TensorEntry] = []
        out.reserveCapacity(tensors.count)
        var seen = Set<String>()
        for (name, t) in tensors {
            guard seen.insert(name).inserted else {
                throw LocatedError(path: path, tensor: name, TorchReaderError.duplicateTensorName)
            }
            if let s = t.storage {
                _ = try dtype(of: t, name: name)
                out.append(try entry(name: name, tensor: t, storage: try locate(name, s, t)))
            } else {
                out.append(try metaEntry(name: name, tensor: t))
            }
        }
        return out
    }
}
