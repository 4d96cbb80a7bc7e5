import LatteCore

/// What the mapper needs to know of a checkpoint tensor: its name, dtype and shape.
public struct TensorDescriptor: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]

    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }

    /// The descriptor of a reader's tensor entry.
    public init(_ entry: TensorEntry) {
        self.init(name: entry.name, dtype: entry.dtype, shape: entry.shape)
    }
}

/// A checkpoint tensor with its place in the plan.
public struct PlannedTensor: Sendable, Equatable {
    /// The canonical (spec) name; the source name for an extra tensor.
    public var name: String
    /// The name in the checkpoint.
    public var sourceName: String
    public var dtype: DType
    public var shape: [Int]
    /// What the tensor is; nil for an extra tensor.
    public var kind: TensorKind?
    /// Where the format writer puts it.
    public var placement: TensorPlacement

    /// Elements of the tensor.
    public var parameters: Int { elementCount(of: shape) ?? 0 }
    /// Bytes of the tensor in its stored dtype.
    public var bytes: Int { dtype.byteCount(elements: parameters) ?? 0 }
}

extension Sequence where Element == PlannedTensor {
    /// Total elements.
    public var parameters: Int { reduce(0) { $0 + $1.parameters } }
    /// Total bytes in the stored dtypes.
    public var bytes: Int { reduce(0) { $0 + $1.bytes } }
}
