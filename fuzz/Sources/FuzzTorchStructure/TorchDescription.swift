import FuzzSupport

/// A `torch.save` file described as a structure rather than bytes: storages (the
/// `data/<key>` records) and a DAG of pickle objects, each node referring only to earlier
/// nodes, the last node being the pickled object. The fuzz input is this description in a
/// compact binary form (`encoded` / `init(decoding:)`); `TorchFileWriter` turns it into the
/// zip the reader sees. Because any decodable description serializes to a well-formed
/// file, mutations land on the meaning (shared containers, memo references, shapes, strides,
/// storage sizes) instead of on the zip and pickle framing.
struct TorchDescription: Equatable {
    /// A storage record: its class, the element count the pickle declares, the bytes really
    /// in the zip record (filled with `fill`).
    struct Storage: Equatable {
        var dtype: Int
        var numel: Int64
        var recordBytes: Int
        var fill: UInt8
    }

    /// A tensor view: `_rebuild_tensor_v2(storage, offset, size, stride, …)`, optionally
    /// wrapped in `_rebuild_parameter`.
    struct View: Equatable {
        var storage: Int
        var offset: Int64
        var shape: [Int64]
        var stride: [Int64]
        var parameter: Bool
    }

    enum Kind: UInt8, CaseIterable {
        /// `{key: child, …}`, built with EMPTY_DICT, MARK, SETITEMS.
        case dict
        /// `collections.OrderedDict()` then SETITEMS.
        case orderedDict
        case list
        case tuple
        case tensor
        case int
        case string
        case none
        /// The child, then DUP and TUPLE2: `(x, x)` in three opcodes.
        case pair
        /// `count` times EMPTY_TUPLE and POP, then None: an opcode flood.
        case flood
    }

    struct Node: Equatable {
        var kind: Kind
        /// Indices of earlier nodes. A node used twice is written once and fetched from the
        /// memo (BINGET) the second time, as pickle writes shared objects.
        var children: [Int] = []
        /// Dict keys, one per child.
        var keys: [String] = []
        var view: View? = nil
        var number: Int64 = 0
        var text: String = ""
    }

    var storages: [Storage] = []
    var nodes: [Node] = []
    /// The zip's top folder (torch names it after the file, or `archive`).
    var folder = "archive"
    /// 0: no `byteorder` record, 1: "little", 2: "big".
    var byteOrder: UInt8 = 1

    /// Storage classes by index, with their element sizes.
    static let storageClasses: [(name: String, size: Int)] = [
        ("FloatStorage", 4), ("HalfStorage", 2), ("BFloat16Storage", 2), ("DoubleStorage", 8), ("LongStorage", 8),
        ("IntStorage", 4), ("ShortStorage", 2), ("CharStorage", 1), ("ByteStorage", 1), ("BoolStorage", 1),
        ("ComplexFloatStorage", 8), ("Float8_e4m3fnStorage", 1), ("QInt8Storage", 1), ("UInt16Storage", 2),
    ]

    /// Bounds that keep one serialized file small enough to write per execution, while
    /// leaving room for what the reader must bound itself (shapes and strides are not bounded
    /// here: their products are the point).
    static let maxNodes = 2000
    static let maxChildren = 4096
    static let maxRecordBytes = 1 << 20
    static let maxFlood = 1 << 21
    static let maxRank = 80
    static let maxText = 1 << 16

    // MARK: binary form

    var encoded: [UInt8] {
        var w = ByteWriter()
        w.bytes(Array("TD1".utf8))
        w.varint(storages.count)
        for s in storages {
            w.varint(s.dtype); w.signed(s.numel); w.varint(s.recordBytes); w.byte(s.fill)
        }
        w.varint(nodes.count)
        for n in nodes {
            w.byte(n.kind.rawValue)
            w.varint(n.children.count)
            for c in n.children { w.varint(c) }
            if n.kind == .dict || n.kind == .orderedDict {
                for i in n.children.indices { w.text(i < n.keys.count ? n.keys[i] : "k\(i)") }
            }
            switch n.kind {
            case .tensor:
                let v = n.view ?? View(storage: 0, offset: 0, shape: [], stride: [], parameter: false)
                w.varint(v.storage); w.signed(v.offset)
                w.varint(v.shape.count); for d in v.shape { w.signed(d) }
                w.varint(v.stride.count); for d in v.stride { w.signed(d) }
                w.byte(v.parameter ? 1 : 0)
            case .int, .flood: w.signed(n.number)
            case .string: w.text(n.text)
            default: break
            }
        }
        w.text(folder)
        w.byte(byteOrder)
        return w.out
    }

    /// Decodes a description; nil for bytes that are not one. Indices out of range are
    /// brought into range rather than refused, so most mutations of the bytes still decode.
    init?(decoding bytes: UnsafeRawBufferPointer) {
        var r = ByteReader(bytes)
        guard r.take(3) == Array("TD1".utf8) else { return nil }
        guard let ns = r.varint(), ns <= 256 else { return nil }
        for _ in 0 ..< ns {
            guard let d = r.varint(), let numel = r.signed(), let rb = r.varint(), let fill = r.byte() else { return nil }
            storages.append(Storage(dtype: d % Self.storageClasses.count, numel: numel, recordBytes: min(rb, Self.maxRecordBytes), fill: fill))
        }
        guard let nn = r.varint(), nn >= 1, nn <= Self.maxNodes else { return nil }
        for i in 0 ..< nn {
            guard let k = r.byte(), let kind = Kind(rawValue: k % UInt8(Kind.allCases.count)), let cc = r.varint(), cc <= Self.maxChildren else { return nil }
            var node = Node(kind: kind)
            for _ in 0 ..< cc {
                guard let c = r.varint() else { return nil }
                if i > 0 { node.children.append(c % i) }
            }
            if kind == .dict || kind == .orderedDict {
                for _ in 0 ..< cc { guard let key = r.text(Self.maxText) else { return nil }; if i > 0 { node.keys.append(key) } }
            }
            switch kind {
            case .tensor:
                guard let s = r.varint(), let off = r.signed(), let rank = r.varint(), rank <= Self.maxRank else { return nil }
                var shape: [Int64] = []
                for _ in 0 ..< rank { guard let d = r.signed() else { return nil }; shape.append(d) }
                guard let srank = r.varint(), srank <= Self.maxRank else { return nil }
                var stride: [Int64] = []
                for _ in 0 ..< srank { guard let d = r.signed() else { return nil }; stride.append(d) }
                guard let p = r.byte() else { return nil }
                node.view = View(storage: storages.isEmpty ? 0 : s % storages.count, offset: off, shape: shape, stride: stride, parameter: p & 1 == 1)
            case .int: guard let v = r.signed() else { return nil }; node.number = v
            case .flood: guard let v = r.signed() else { return nil }; node.number = min(max(v, 0), Int64(Self.maxFlood))
            case .string: guard let t = r.text(Self.maxText) else { return nil }; node.text = t
            default: break
            }
            if kind == .pair { node.children = Array(node.children.prefix(1)); if node.children.isEmpty { node.kind = .none } }
            nodes.append(node)
        }
        guard let f = r.text(256), let bo = r.byte() else { return nil }
        folder = f
        byteOrder = bo % 3
    }

    init() {}
}
