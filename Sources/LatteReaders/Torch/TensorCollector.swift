import LatteCore

/// Walks an unpickled object and lists its tensors under '.'-joined key paths, the way
/// `state_dict` keys are spelled (`state_dict.enc.w`, `layers.0`); other leaves are
/// skipped, and their paths recorded.
///
/// A pickle can put one container under many keys (DUP, memo GETs): tied weights and
/// `{'model': sd, 'ema': sd}` do, and so does an 84-byte DAG of DUP+TUPLE2 that unfolds
/// into 2^40 paths. So the walk first scans each distinct container once (cycles, depth,
/// and whether any leaf lies below it at all), then unfolds only the containers that lead
/// to a leaf, counting what it produces against budgets set by the pickle's bytes: the
/// work and the output are at most a small multiple of the bytes present.
struct TensorCollector {
    /// Far deeper than any checkpoint; keeps the walk's recursion small.
    static let maxDepth = 256
    /// Key paths produced (tensors, skipped leaves, containers entered) per pickle byte,
    /// plus an allowance: a torch pickle spends 60 to 200 bytes per tensor, so even a
    /// state dict saved under ten names (`{'model': sd, 'ema': sd, ...}`) stays far below.
    static let pathsPerPickleByte = 1
    static let pathAllowance = 65_536
    /// Bytes of key paths built, per pickle byte, plus an allowance: a name is spelled by
    /// the keys on its path, which the pickle holds once each; deep prefixes repeat them.
    static let nameBytesPerPickleByte = 16
    static let nameBytesAllowance = 1 << 20

    var tensors: [(name: String, value: TensorValue)] = []
    var skipped: [String] = []

    /// What the scan learned of a container, once per container whatever its paths.
    private struct Shape {
        /// Levels of values below it: its deepest value lies `height` levels down.
        var height: Int
        /// A tensor or another leaf lies below it (an empty container, or containers of
        /// empty containers, produce nothing and are not unfolded).
        var productive: Bool
    }

    private var shapes: [ObjectIdentifier: Shape] = [:]
    private var onPath = Set<ObjectIdentifier>()
    /// Keys from the root down to the container being scanned, to name it in errors.
    private var trail: [PickleValue] = []
    private let pathLimit: Int
    private let nameBytesLimit: Int
    private let pickleBytes: Int
    private var paths = 0
    private var nameBytes = 0

    private init(pickleBytes: Int) {
        self.pickleBytes = max(pickleBytes, 0)
        let (p, o1) = self.pickleBytes.multipliedReportingOverflow(by: Self.pathsPerPickleByte)
        let (n, o2) = self.pickleBytes.multipliedReportingOverflow(by: Self.nameBytesPerPickleByte)
        pathLimit = o1 ? .max : p.addingReportingOverflow(Self.pathAllowance).partialValue
        nameBytesLimit = o2 ? .max : n.addingReportingOverflow(Self.nameBytesAllowance).partialValue
    }

    /// Lists the tensors of `root`, the value of a `pickleBytes`-byte pickle.
    static func collect(_ root: PickleValue, pickleBytes: Int) throws(TorchReaderError) -> TensorCollector {
        var c = TensorCollector(pickleBytes: pickleBytes)
        if let (b, isDict) = root.walkedBox {
            let shape = try c.scan(b, isDict: isDict)
            guard shape.height <= maxDepth else { throw .nestingTooDeep(path: "", limit: maxDepth) }
        }
        try c.walk(root, path: "")
        return c
    }

    // MARK: the scan: each container once

    private func trailPath() -> String {
        trail.map { Self.keyString($0) }.joined(separator: ".")
    }

    /// The shape of `b`, scanned once; cycles and nesting beyond `maxDepth` are refused.
    private mutating func scan(_ b: PickleBox, isDict: Bool) throws(TorchReaderError) -> Shape {
        let id = ObjectIdentifier(b)
        if let s = shapes[id] { return s }
        guard onPath.insert(id).inserted else { throw .cyclicContainer(path: trailPath()) }
        var shape = Shape(height: 0, productive: false)
        func child(_ key: PickleValue, _ v: PickleValue) throws(TorchReaderError) {
            guard let (inner, innerIsDict) = v.walkedBox else {
                shape.height = max(shape.height, 1)
                shape.productive = true
                return
            }
            trail.append(key)
            // The depth below here is only known once scanned; refuse as soon as it is too deep.
            guard trail.count <= Self.maxDepth else { throw .nestingTooDeep(path: trailPath(), limit: Self.maxDepth) }
            let s = try scan(inner, isDict: innerIsDict)
            guard trail.count + s.height <= Self.maxDepth else {
                throw .nestingTooDeep(path: trailPath(), limit: Self.maxDepth)
            }
            trail.removeLast()
            shape.height = max(shape.height, 1 + s.height)
            shape.productive = shape.productive || s.productive
        }
        if isDict {
            for (k, item) in b.entries { try child(k, item) }
        } else {
            for (i, item) in b.items.enumerated() { try child(.int(i), item) }
        }
        onPath.remove(id)
        shapes[id] = shape
        return shape
    }

    // MARK: the walk: every path to a leaf, within the budgets

    private mutating func produce(_ path: String) throws(TorchReaderError) {
        paths += 1
        guard paths <= pathLimit else {
            throw .tooManyKeyPaths(limit: pathLimit, pickleBytes: pickleBytes, perByte: Self.pathsPerPickleByte, allowance: Self.pathAllowance)
        }
    }

    private mutating func walk(_ v: PickleValue, path: String) throws(TorchReaderError) {
        try produce(path)
        switch v {
        case let .tensor(t):
            tensors.append((path, t))
        case let .dict(b), let .list(b), let .tuple(b):
            guard shapes[ObjectIdentifier(b)]?.productive == true else { return }
            if case .dict = v {
                for (k, item) in b.entries where isProductive(item) { try walk(item, path: try join(path, Self.keyString(k))) }
            } else {
                for (i, item) in b.items.enumerated() where isProductive(item) { try walk(item, path: try join(path, String(i))) }
            }
        default:
            skipped.append(path)
        }
    }

    private func isProductive(_ v: PickleValue) -> Bool {
        guard let (b, _) = v.walkedBox else { return true }
        return shapes[ObjectIdentifier(b)]?.productive == true
    }

    private mutating func join(_ path: String, _ key: String) throws(TorchReaderError) -> String {
        let joined = path.isEmpty ? key : path + "." + key
        nameBytes += joined.utf8.count
        guard nameBytes <= nameBytesLimit else {
            throw .keyPathsTooLong(limit: nameBytesLimit, pickleBytes: pickleBytes, perByte: Self.nameBytesPerPickleByte,
                                   allowance: Self.nameBytesAllowance)
        }
        return joined
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

extension PickleValue {
    /// The box of a container the collector walks into: a dict, list or tuple (a set is a
    /// leaf: its items have no keys).
    fileprivate var walkedBox: (box: PickleBox, isDict: Bool)? {
        switch self {
        case let .dict(b): (b, true)
        case let .list(b), let .tuple(b): (b, false)
        default: nil
        }
    }
}

/// Turns described tensors into `TensorEntry`s once their storages are located.
/// Errors about one tensor are `TensorError`s; the reader's entry point adds the file.
struct TensorEntryBuilder {
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
            throw TensorError(tensor: name, TorchReaderError.quantizedDType(t.scalarType.rawValue))
        }
        guard let d = t.scalarType.dtype else {
            throw TensorError(tensor: name, TorchReaderError.dtypeWithoutName(t.scalarType.rawValue))
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
            throw TensorError(tensor: name, TorchReaderError.badView(error))
        }
        return e
    }

    /// A meta-device tensor: shape and dtype, no storage.
    func metaEntry(name: String, tensor t: TensorValue) throws -> TensorEntry {
        let d = try dtype(of: t, name: name)
        guard t.size.count == t.stride.count, let n = elementCount(of: t.size), d.byteCount(elements: n) != nil else {
            throw TensorError(tensor: name, TorchReaderError.badMetaShape(t.size))
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
                throw TensorError(tensor: name, TorchReaderError.duplicateTensorName)
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
