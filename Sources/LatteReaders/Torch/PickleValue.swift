/// A value built by the pickle machine. Only data and symbolic stand-ins exist here:
/// a global is a name from the allowlist, a tensor is a description of a view over a
/// storage, and nothing can be called.
///
/// Small cases are stored inline and the wide ones (strings, complex numbers, globals,
/// storages, tensors) behind a reference: a value is 9 bytes (16 in an array) and pushing
/// an integer, None or a container allocates nothing.
///
/// Not Sendable: containers are mutable boxes shared by every value that refers to them.
public enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits, as little-endian two's-complement bytes (LONG1/LONG4).
    case bigInt([UInt8])
    case float(Double)
    indirect case complex(Double, Double)
    indirect case string(String)
    case bytes([UInt8])
    /// Lists, tuples, dicts and sets live in reference boxes: pickles mutate containers
    /// after memoizing them, and every memo reference must see those mutations.
    case list(PickleBox)
    case tuple(PickleBox)
    case dict(PickleBox)
    case set(PickleBox)
    /// An allowlisted global (a class, function or dtype object), never resolved to code.
    indirect case global(TorchGlobal)
    /// A storage named by a persistent id.
    indirect case storage(StorageRef)
    /// A tensor: a view over a storage (or a meta tensor without one).
    indirect case tensor(TensorValue)
    /// A `torch.device`.
    indirect case device(String)

    /// A short name of the value's kind, for messages.
    public var kind: String {
        switch self {
        case .none: "None"
        case .bool: "bool"
        case .int, .bigInt: "int"
        case .float: "float"
        case .complex: "complex"
        case .string: "str"
        case .bytes: "bytes"
        case .list: "list"
        case .tuple: "tuple"
        case .dict(let b): b.isOrderedDict ? "OrderedDict" : "dict"
        case .set: "set"
        case let .global(g): "global '\(g.qualifiedName)'"
        case .storage: "storage"
        case .tensor: "tensor"
        case .device: "torch.device"
        }
    }

    var intValue: Int? { if case let .int(i) = self { i } else if case let .bool(b) = self { b ? 1 : 0 } else { nil } }

    var stringValue: String? {
        switch self {
        case let .string(s): s
        // Python 2 pickles (legacy files written by Python 2) hold ASCII byte strings.
        case let .bytes(b): String(decoding: b, as: UTF8.self)
        default: nil
        }
    }

    /// The items of a tuple or list.
    var sequence: [PickleValue]? {
        switch self {
        case let .tuple(b), let .list(b): b.items
        default: nil
        }
    }
}

/// A mutable container shared by every reference to it (list, tuple, dict or set).
///
/// Boxes are freed by reference counting as soon as nothing holds them. The only boxes
/// that can sit on a reference cycle are those a container was added to after they were
/// made (APPEND, SETITEM, ...): the machine keeps just those in its arena and empties
/// them when it is done, which breaks every cycle. A box made by the machine counts
/// itself in its ledger while it lives, so the budget follows live memory, not garbage.
public final class PickleBox {
    /// Items of a list, tuple or set.
    public var items: [PickleValue] = []
    /// Entries of a dict, in insertion order.
    public var entries: [(key: PickleValue, value: PickleValue)] = []
    /// A `collections.OrderedDict` rather than a plain dict.
    public var isOrderedDict = false
    /// Levels of containers from this one down to its deepest leaf (1 when it holds none).
    /// (This and `inArena` are touched for every container made: no dynamic exclusivity
    /// check, as nothing else accesses a box while the machine runs.)
    @exclusivity(unchecked) var depth: Int32 = 1
    /// Already in the machine's arena.
    @exclusivity(unchecked) var inArena = false
    /// Where the machine counts what live boxes cost (nil for a box made elsewhere).
    private let ledger: PickleLedger?

    init(items: [PickleValue] = [], ledger: PickleLedger? = nil) {
        self.items = items
        self.ledger = ledger
    }

    /// What the ledger counts for this box now.
    var cost: Int { PickleMachine.Cost.box + items.capacity * PickleMachine.Cost.item + entries.capacity * PickleMachine.Cost.entry }

    deinit { ledger?.live -= cost }
}

/// The bytes a pickle machine's values cost while they live. Only the machine's thread
/// touches it: boxes die with the values that hold them, inside the reader's call.
final class PickleLedger {
    /// Touched twice per container made; the dynamic exclusivity check would cost more
    /// than the count (one thread, no overlapping access).
    @exclusivity(unchecked) var live = 0
}

/// The storage half of a persistent id `('storage', StorageType, key, location, numel[, view])`.
public struct StorageRef: Sendable, Equatable {
    public var type: StorageType
    public var key: String
    public var location: String
    /// Elements of `type` (bytes for an untyped storage).
    public var numel: Int
    /// Legacy files: a view of the root storage `(view_key, offset, size)` in elements.
    public var view: (key: String, offset: Int, size: Int)?

    public static func == (a: StorageRef, b: StorageRef) -> Bool {
        a.type == b.type && a.key == b.key && a.location == b.location && a.numel == b.numel
            && a.view?.key == b.view?.key && a.view?.offset == b.view?.offset && a.view?.size == b.view?.size
    }
}

/// A tensor as `torch._utils._rebuild_tensor_v2/v3` would rebuild it, described, not built.
public struct TensorValue: Sendable, Equatable {
    /// nil for a meta tensor (`_rebuild_meta_tensor_no_storage`), which has no data.
    public var storage: StorageRef?
    /// The element type: the storage's, or the explicit dtype of `_rebuild_tensor_v3`.
    public var scalarType: TorchScalarType
    /// Offset of the first element, in elements.
    public var storageOffset: Int
    public var size: [Int]
    public var stride: [Int]
}
