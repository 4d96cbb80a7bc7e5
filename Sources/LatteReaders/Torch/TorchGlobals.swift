import LatteCore

/// A torch element type (`torch.float32`, `torch.float8_e4m3fn`, …), by its canonical name.
public enum TorchScalarType: String, Sendable, CaseIterable {
    case float64, float32, float16, bfloat16
    case int64, int32, int16, int8, uint8, uint16, uint32, uint64
    case bool
    case complex32, complex64, complex128
    case float8_e4m3fn, float8_e5m2, float8_e4m3fnuz, float8_e5m2fnuz, float8_e8m0fnu
    case float4_e2m1fn_x2
    case qint8, quint8, qint32, quint4x2, quint2x4
    case bits1x8, bits2x4, bits4x2, bits8, bits16

    /// Python aliases that name the same object (`torch.float` is `torch.float32`).
    static let aliases: [String: TorchScalarType] = [
        "float": .float32, "double": .float64, "half": .float16, "long": .int64, "int": .int32,
        "short": .int16, "cfloat": .complex64, "cdouble": .complex128, "chalf": .complex32,
    ]

    /// The safetensors dtype, or nil when safetensors has no name for it.
    public var dtype: DType? {
        switch self {
        case .float64: .f64
        case .float32: .f32
        case .float16: .f16
        case .bfloat16: .bf16
        case .int64: .i64
        case .int32: .i32
        case .int16: .i16
        case .int8: .i8
        case .uint8: .u8
        case .uint16: .u16
        case .uint32: .u32
        case .uint64: .u64
        case .bool: .bool
        case .complex64: .c64
        case .complex128: .c128
        case .float8_e4m3fn: .f8e4m3
        case .float8_e5m2: .f8e5m2
        case .float8_e8m0fnu: .f8e8m0
        default: nil
        }
    }

    /// Bytes per element as torch stores them.
    public var elementSize: Int {
        switch self {
        case .float64, .int64, .uint64, .complex64: 8
        case .float32, .int32, .uint32, .complex32, .qint32: 4
        case .float16, .bfloat16, .int16, .uint16, .bits16: 2
        case .complex128: 16
        default: 1
        }
    }

    public var isQuantized: Bool { [.qint8, .quint8, .qint32, .quint4x2, .quint2x4].contains(self) }
}

/// The class of a storage in a persistent id: typed (`torch.FloatStorage`) or untyped.
public enum StorageType: Sendable, Equatable {
    case typed(TorchScalarType)
    case untyped

    /// `torch.<Name>Storage` class names.
    static let typedNames: [String: TorchScalarType] = [
        "DoubleStorage": .float64, "FloatStorage": .float32, "HalfStorage": .float16, "BFloat16Storage": .bfloat16,
        "LongStorage": .int64, "IntStorage": .int32, "ShortStorage": .int16, "CharStorage": .int8,
        "ByteStorage": .uint8, "BoolStorage": .bool, "UInt16Storage": .uint16, "UInt32Storage": .uint32,
        "UInt64Storage": .uint64, "ComplexHalfStorage": .complex32, "ComplexFloatStorage": .complex64,
        "ComplexDoubleStorage": .complex128, "Float8_e4m3fnStorage": .float8_e4m3fn,
        "Float8_e5m2Storage": .float8_e5m2, "Float8_e4m3fnuzStorage": .float8_e4m3fnuz,
        "Float8_e5m2fnuzStorage": .float8_e5m2fnuz, "Float8_e8m0fnuStorage": .float8_e8m0fnu,
        "QInt8Storage": .qint8, "QUInt8Storage": .quint8, "QInt32Storage": .qint32,
        "QUInt4x2Storage": .quint4x2, "QUInt2x4Storage": .quint2x4,
    ]

    /// Bytes per element the storage's `numel` counts (1 for an untyped storage: it counts bytes).
    public var elementSize: Int {
        switch self {
        case let .typed(t): t.elementSize
        case .untyped: 1
        }
    }
}

/// A global the pickle machine accepts. Each is a name with a symbolic meaning; none is
/// ever imported or called.
public enum TorchGlobal: Sendable, Equatable {
    case orderedDict
    /// `torch._utils._rebuild_tensor(storage, offset, size, stride)`, written by torch before 0.4.
    case rebuildTensor
    case rebuildTensorV2
    case rebuildTensorV3
    case rebuildParameter
    case rebuildParameterWithState
    case rebuildFromTypeV2
    case rebuildMetaTensorNoStorage
    case storageClass(StorageType, name: String)
    case dtype(TorchScalarType)
    case size
    case device
    /// `torch.Tensor` or `torch.nn.parameter.Parameter`, as the type argument of `_rebuild_from_type_v2`.
    case tensorClass(String)
    /// Containers and scalars that protocol 2 can only spell as a call: `set`/`frozenset`,
    /// `bytearray`, `complex`, and `_codecs.encode` (how Python 3 pickles `bytes` in protocol 2).
    case set(String)
    case bytearray(String)
    case complex(String)
    case codecsEncode

    public var qualifiedName: String {
        switch self {
        case .orderedDict: "collections.OrderedDict"
        case .rebuildTensor: "torch._utils._rebuild_tensor"
        case .rebuildTensorV2: "torch._utils._rebuild_tensor_v2"
        case .rebuildTensorV3: "torch._utils._rebuild_tensor_v3"
        case .rebuildParameter: "torch._utils._rebuild_parameter"
        case .rebuildParameterWithState: "torch._utils._rebuild_parameter_with_state"
        case .rebuildFromTypeV2: "torch._tensor._rebuild_from_type_v2"
        case .rebuildMetaTensorNoStorage: "torch._utils._rebuild_meta_tensor_no_storage"
        case let .storageClass(_, name): name
        case let .dtype(t): "torch.\(t.rawValue)"
        case .size: "torch.Size"
        case .device: "torch.device"
        case let .tensorClass(n), let .set(n), let .bytearray(n), let .complex(n): n
        case .codecsEncode: "_codecs.encode"
        }
    }

    /// Resolves `module.name` against the allowlist. Known unsupported tensor kinds get their
    /// own errors; everything else outside the list is refused by name.
    public static func resolve(module: String, name: String) throws(PickleError) -> TorchGlobal {
        switch (module, name) {
        case ("collections", "OrderedDict"): return .orderedDict
        case ("torch._utils", "_rebuild_tensor"): return .rebuildTensor
        case ("torch._utils", "_rebuild_tensor_v2"): return .rebuildTensorV2
        case ("torch._utils", "_rebuild_tensor_v3"): return .rebuildTensorV3
        case ("torch._utils", "_rebuild_parameter"): return .rebuildParameter
        case ("torch._utils", "_rebuild_parameter_with_state"): return .rebuildParameterWithState
        case ("torch._tensor", "_rebuild_from_type_v2"), ("torch._utils", "_rebuild_from_type_v2"): return .rebuildFromTypeV2
        case ("torch._utils", "_rebuild_meta_tensor_no_storage"): return .rebuildMetaTensorNoStorage
        case ("torch._utils", "_rebuild_qtensor"), ("torch._utils", "_rebuild_quantized_tensor"):
            throw .quantizedTensor(global: "\(module).\(name)")
        case ("torch._utils", "_rebuild_sparse_tensor"), ("torch._utils", "_rebuild_sparse_csr_tensor"):
            throw .sparseTensor(global: "\(module).\(name)")
        case ("builtins", "set"), ("__builtin__", "set"), ("builtins", "frozenset"), ("__builtin__", "frozenset"):
            return .set("\(module).\(name)")
        case ("builtins", "bytearray"), ("__builtin__", "bytearray"): return .bytearray("\(module).\(name)")
        case ("builtins", "complex"), ("__builtin__", "complex"): return .complex("\(module).\(name)")
        case ("_codecs", "encode"): return .codecsEncode
        case ("torch", "Size"): return .size
        case ("torch", "device"): return .device
        case ("torch", "Tensor"), ("torch._tensor", "Tensor"), ("torch.nn.parameter", "Parameter"):
            return .tensorClass("\(module).\(name)")
        case ("torch", "UntypedStorage"), ("torch.storage", "UntypedStorage"):
            return .storageClass(.untyped, name: "\(module).\(name)")
        case ("torch", _), ("torch.cuda", _):
            // Storage classes (`torch.cuda.*Storage` in files saved from a GPU by old torch).
            if let t = StorageType.typedNames[name] { return .storageClass(.typed(t), name: "\(module).\(name)") }
            if module == "torch" {
                if let t = TorchScalarType(rawValue: name) ?? TorchScalarType.aliases[name] { return .dtype(t) }
            }
            throw .refusedGlobal(module: module, name: name)
        default:
            throw .refusedGlobal(module: module, name: name)
        }
    }
}
