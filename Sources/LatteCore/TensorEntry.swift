/// Byte order of a storage's elements in the file.
public enum ByteOrder: String, Sendable, Codable {
    case little, big
}

/// One tensor of a checkpoint: what it is (name, dtype, logical shape) and where its
/// elements are (a storage, i.e. a byte range of one mapped file, and a strided view over it).
///
/// Every reader produces these; nothing is read until the bytes are asked for.
public struct TensorEntry: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    /// The logical shape (for a PyTorch view: its size, not its storage's).
    public var shape: [Int]
    /// Index into `Checkpoint.files`.
    public var file: Int
    /// Absolute byte offset of the storage in its file.
    public var storageOffset: Int
    /// Bytes in the storage (several tensors may view one storage).
    public var storageLength: Int
    /// Identifies the storage: tensors with equal keys in one file share their bytes.
    public var storageKey: String
    /// The view's first element, counted in elements from the storage's start.
    public var elementOffset: Int
    /// The view's strides in elements (0 for a dimension made by `expand`).
    public var strides: [Int] {
        get { explicitStrides ?? contiguousStrides(of: shape) }
        set { explicitStrides = newValue == contiguousStrides(of: shape) ? nil : newValue }
    }
    /// Strides when they differ from row-major; nil (the common case) saves an array per tensor.
    private var explicitStrides: [Int]?
    public var byteOrder: ByteOrder
    /// A tensor on torch's `meta` device: dtype and shape only, no bytes anywhere. Its
    /// storage fields are empty and `Checkpoint.bytes(of:)` refuses it.
    public var isMeta: Bool

    public init(name: String, dtype: DType, shape: [Int], file: Int, storageOffset: Int, storageLength: Int,
                storageKey: String, elementOffset: Int = 0, strides: [Int]? = nil, byteOrder: ByteOrder = .little,
                isMeta: Bool = false) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.file = file
        self.storageOffset = storageOffset
        self.storageLength = storageLength
        self.storageKey = storageKey
        self.elementOffset = elementOffset
        self.explicitStrides = strides.flatMap { $0 == contiguousStrides(of: shape) ? nil : $0 }
        self.byteOrder = byteOrder
        self.isMeta = isMeta
    }

    /// Number of elements of the logical shape (validated readers guarantee no overflow).
    public var elementCount: Int { LatteCore.elementCount(of: shape) ?? 0 }

    /// Bytes of the tensor once contiguous.
    public var byteCount: Int { dtype.byteCount(elements: elementCount) ?? 0 }

    /// True when the view is a dense row-major run in the file's byte order equal to ours,
    /// so its bytes can be handed out straight from the memory map.
    public var isContiguous: Bool {
        if byteOrder == .big && dtype.swapUnit > 1 && elementCount > 0 { return false }
        if elementCount <= 1 { return true }
        guard let strides = explicitStrides else { return true }
        let expected = contiguousStrides(of: shape)
        for i in shape.indices where shape[i] != 1 && strides[i] != expected[i] { return false }
        return true
    }

    /// How many bytes a view's logical size may exceed its storage's bytes.
    ///
    /// Stride-0 (`expand`ed) and overlapping views repeat their storage's bytes: 4 bytes can
    /// describe [2^28] floats (1 GiB) or [2^25, 2^25] (4.5e15 bytes), and converting one writes
    /// every logical byte. Real checkpoints expand only small buffers: `position_ids`
    /// [1, 512] over 512 int64s (no excess at all), masks and scalars broadcast to a hidden
    /// size or a short sequence (kilobytes); transposes, slices and permutes address at
    /// most their storage. So a view holds at most its storage's bytes (a ratio of 1) plus
    /// this allowance, which covers any such buffer and keeps one tensor's excess small
    /// beside the 1 GiB memory budget.
    public static let maxViewExpansionBytes = 16 << 20

    /// Checks that the view lies inside its storage (every element it can address is a
    /// whole element of the storage) and that its logical bytes exceed the storage's by at
    /// most `maxViewExpansionBytes`. Readers call this before exposing a tensor.
    public func checkViewInsideStorage() throws(TensorLayoutError) {
        guard shape.count == strides.count else { throw .rankMismatch(shape: shape, strides: strides) }
        guard shape.allSatisfy({ $0 >= 0 }), let n = LatteCore.elementCount(of: shape) else { throw .badShape(shape) }
        guard elementOffset >= 0 else { throw .negativeOffset(elementOffset) }
        guard strides.allSatisfy({ $0 >= 0 }) else { throw .negativeStride(strides) }
        guard !n.multipliedReportingOverflow(by: dtype.bitWidth).overflow else { throw .badShape(shape) }
        guard let needed = dtype.byteCount(elements: n) else { throw .partialBytes(dtype: dtype, elements: n) }
        if n == 0 { return }
        var last = elementOffset
        for i in shape.indices {
            let (p, o1) = (shape[i] - 1).multipliedReportingOverflow(by: strides[i])
            let (s, o2) = last.addingReportingOverflow(p)
            guard !o1, !o2 else { throw .outsideStorage(lastElement: Int.max, storageBytes: storageLength) }
            last = s
        }
        guard let width = dtype.byteWidth else {
            // Sub-byte kinds are only ever dense: the whole run must fit.
            guard isContiguous, elementOffset == 0, needed <= storageLength else {
                throw .outsideStorage(lastElement: last, storageBytes: storageLength)
            }
            return
        }
        let (end, o3) = last.addingReportingOverflow(1)
        let (endByte, o4) = end.multipliedReportingOverflow(by: width)
        guard !o3, !o4, endByte <= storageLength else { throw .outsideStorage(lastElement: last, storageBytes: storageLength) }
        let (allowed, o5) = storageLength.addingReportingOverflow(Self.maxViewExpansionBytes)
        guard o5 || needed <= allowed else {
            throw .expandedBeyondStorage(logicalBytes: needed, storageBytes: storageLength, allowance: Self.maxViewExpansionBytes)
        }
    }
}

/// Why a tensor's view does not fit its storage.
public enum TensorLayoutError: Error, Equatable, CustomStringConvertible {
    case rankMismatch(shape: [Int], strides: [Int])
    case badShape([Int])
    case negativeOffset(Int)
    case negativeStride([Int])
    case partialBytes(dtype: DType, elements: Int)
    case outsideStorage(lastElement: Int, storageBytes: Int)
    /// A stride-0 or overlapping view whose logical bytes exceed its storage's by more than the allowance.
    case expandedBeyondStorage(logicalBytes: Int, storageBytes: Int, allowance: Int)

    public var description: String {
        switch self {
        case let .rankMismatch(shape, strides): "shape \(shape) and strides \(strides) differ in rank"
        case let .badShape(s): "shape \(s) has a negative dimension or too many elements"
        case let .negativeOffset(o): "negative storage offset \(o)"
        case let .negativeStride(s): "negative stride in \(s)"
        case let .partialBytes(d, n): "\(n) elements of \(d.name) do not fill whole bytes"
        case let .outsideStorage(last, bytes):
            "the view reaches element \(last), past the end of its \(bytes)-byte storage"
        case let .expandedBeyondStorage(logical, bytes, allowance):
            "the view holds \(logical) bytes over a \(bytes)-byte storage: views may exceed their storage by at most \(allowance >> 20) MiB (stride-0 or overlapping views repeat its bytes)"
        }
    }
}
