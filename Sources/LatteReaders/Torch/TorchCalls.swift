/// What REDUCE and NEWOBJ mean for each allowlisted global, as descriptions, never calls.
struct TorchCalls {
    let arena: PickleMachine.Arena

    /// The integers of a tuple, copied (and charged: a memoized tuple can be used many times).
    func ints(_ v: PickleValue, _ f: TorchGlobal, _ what: String) throws(PickleError) -> [Int] {
        guard let items = v.sequence else { throw .badCall(function: f.qualifiedName, reason: "\(what) must be a tuple, found \(v.kind)") }
        try arena.charge(items.count * 8)
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for x in items {
            guard case let .int(i) = x else { throw .badCall(function: f.qualifiedName, reason: "\(what) must hold integers, found \(x.kind)") }
            out.append(i)
        }
        return out
    }

    func call(_ callable: PickleValue, _ argsValue: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .global(f) = callable else { throw .notCallable(callable.kind) }
        guard let args = argsValue.sequence else { throw .badCall(function: f.qualifiedName, reason: "arguments must be a tuple, found \(argsValue.kind)") }
        return try apply(f, args, nestedOK: true)
    }

    /// `f(*args)`, by the kind of global: containers, tensor rebuilds, and the small values
    /// (sizes, devices, bytes, complex numbers) tensor pickles hold. `nestedOK`: whether `f`
    /// may be `_rebuild_from_type_v2`, which wraps another rebuild only one level deep.
    func apply(_ f: TorchGlobal, _ args: [PickleValue], nestedOK: Bool) throws(PickleError) -> PickleValue {
        switch f {
        case .orderedDict: return try orderedDict(f, args)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3: return try rebuildTensor(f, args)
        case .rebuildParameter, .rebuildParameterWithState:
            try need(f == .rebuildParameter ? 3 ... 3 : 4 ... 4, f, args)
            guard case .tensor = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a tensor, found \(args[0].kind)") }
            return args[0]
        case .rebuildFromTypeV2: return try rebuildFromType(f, args, nestedOK: nestedOK)
        case .rebuildMetaTensorNoStorage: return try rebuildMetaTensor(f, args)
        case .size: return try size(f, args)
        case .device: return try device(f, args)
        case .set: return try set(f, args)
        case .codecsEncode:
            try need(1 ... 2, f, args)
            return .bytes(try encode(f, args))
        case .bytearray: return try bytearray(f, args)
        case .complex: return try complex(f, args)
        case .storageClass, .dtype, .tensorClass:
            throw .notCallable("'\(f.qualifiedName)'")
        }
    }

    /// Refuses a call with an argument count outside `counts`.
    func need(_ counts: ClosedRange<Int>, _ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) {
        guard counts.contains(args.count) else {
            throw .badCall(function: f.qualifiedName, reason: "takes \(counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)") arguments, got \(args.count)")
        }
    }

    /// `collections.OrderedDict([pairs])`.
    func orderedDict(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(0 ... 1, f, args)
        let b = try arena.make()
        b.isOrderedDict = true
        if args.count == 1 {
            guard let pairs = args[0].sequence else { throw .badCall(function: f.qualifiedName, reason: "expects a sequence of pairs") }
            try arena.grow(&b.entries, by: pairs.count, unit: PickleMachine.Cost.entry)
            for p in pairs {
                guard let kv = p.sequence, kv.count == 2 else { throw .badCall(function: f.qualifiedName, reason: "expects a sequence of pairs") }
                try arena.noteChildren(of: b, kv, isNew: true)
                b.entries.append((kv[0], kv[1]))
            }
        }
        return .dict(b)
    }

    /// `torch._utils._rebuild_tensor[_v2|_v3](storage, offset, size, stride, ...)`.
    func rebuildTensor(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        let isV3 = f == .rebuildTensorV3
        try need(isV3 ? 7 ... 8 : f == .rebuildTensor ? 4 ... 4 : 6 ... 7, f, args)
        guard case let .storage(s) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a storage, found \(args[0].kind)") }
        guard let offset = args[1].intValue else { throw .badCall(function: f.qualifiedName, reason: "the storage offset must be an integer") }
        let size = try ints(args[2], f, "the size")
        let stride = try ints(args[3], f, "the stride")
        try arena.charge(PickleMachine.Cost.tensor)
        let scalar: TorchScalarType
        if isV3 {
            guard case let .global(.dtype(t)) = args[6] else { throw .badCall(function: f.qualifiedName, reason: "argument 7 must be a torch dtype, found \(args[6].kind)") }
            scalar = t
        } else {
            guard case let .typed(t) = s.type else {
                throw .badCall(function: f.qualifiedName, reason: "an untyped storage needs an explicit dtype (_rebuild_tensor_v3)")
            }
            scalar = t
        }
        return .tensor(TensorValue(storage: s, scalarType: scalar, storageOffset: offset, size: size, stride: stride))
    }

    /// `torch._tensor._rebuild_from_type_v2(func, type, args, state)`: `func(*args)`, one level deep.
    func rebuildFromType(_ f: TorchGlobal, _ args: [PickleValue], nestedOK: Bool) throws(PickleError) -> PickleValue {
        try need(4 ... 4, f, args)
        guard nestedOK, case let .global(inner) = args[0],
              [.rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState, .rebuildMetaTensorNoStorage].contains(inner)
        else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a tensor rebuild function, found \(args[0].kind)") }
        guard case .global(.tensorClass) = args[1] else {
            throw .badCall(function: f.qualifiedName, reason: "argument 2 must be torch.Tensor or Parameter, found \(args[1].kind)")
        }
        guard let innerArgs = args[2].sequence else { throw .badCall(function: f.qualifiedName, reason: "argument 3 must be a tuple") }
        return try apply(inner, innerArgs, nestedOK: false)
    }

    /// `torch._utils._rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad)`: a tensor without bytes.
    func rebuildMetaTensor(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(4 ... 5, f, args)
        guard case let .global(.dtype(t)) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a torch dtype") }
        let size = try ints(args[1], f, "the size")
        let stride = try ints(args[2], f, "the stride")
        try arena.charge(PickleMachine.Cost.tensor)
        return .tensor(TensorValue(storage: nil, scalarType: t, storageOffset: 0, size: size, stride: stride))
    }

    /// `torch.Size([dims])`.
    func size(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(0 ... 1, f, args)
        if args.isEmpty { return .tuple(arena.emptyTuple) }
        let dims = try ints(args[0], f, "the size")
        return dims.isEmpty ? .tuple(arena.emptyTuple) : .tuple(try arena.make(dims.map { .int($0) }))
    }

    /// `torch.device(type[, index])`.
    func device(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(1 ... 2, f, args)
        guard let type = args[0].stringValue else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a string") }
        try arena.charge(PickleMachine.Cost.global + type.utf8.count)
        if args.count == 2, let i = args[1].intValue { return .device("\(type):\(i)") }
        return .device(type)
    }

    /// `set([items])`.
    func set(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(0 ... 1, f, args)
        if args.isEmpty { return .set(try arena.make()) }
        guard let items = args[0].sequence ?? setItems(args[0]) else {
            throw .badCall(function: f.qualifiedName, reason: "expects a list, found \(args[0].kind)")
        }
        return .set(try arena.make(items))
    }

    /// `bytearray([bytes or text[, encoding]])`.
    func bytearray(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(0 ... 2, f, args)
        if args.isEmpty { return .bytes([]) }
        if args.count == 1, case let .bytes(b) = args[0] { return .bytes(b) }
        return .bytes(try encode(f, args))
    }

    /// `complex(real[, imag])`.
    func complex(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> PickleValue {
        try need(1 ... 2, f, args)
        func real(_ v: PickleValue) -> Double? {
            switch v {
            case let .float(d): d
            case let .int(i): Double(i)
            default: nil
            }
        }
        guard let re = real(args[0]), let im = args.count == 2 ? real(args[1]) : 0 else {
            throw .badCall(function: f.qualifiedName, reason: "expects numbers")
        }
        return .complex(re, im)
    }

    func setItems(_ v: PickleValue) -> [PickleValue]? { if case let .set(b) = v { b.items } else { nil } }

    /// `_codecs.encode(text, encoding)`: protocol 2's spelling of a bytes object.
    func encode(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> [UInt8] {
        guard case let .string(text) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "expects a string, found \(args[0].kind)") }
        // Encoding names are short; a long one is not worth copying to compare.
        let encoding = args.count == 2 ? args[1].stringValue.flatMap { $0.utf8.count <= 16 ? $0.lowercased() : nil } : "utf-8"
        try arena.charge(text.utf8.count)
        switch encoding {
        case "latin1", "latin-1", "iso-8859-1":
            var out: [UInt8] = []
            out.reserveCapacity(text.unicodeScalars.count)
            for u in text.unicodeScalars {
                guard u.value <= 0xFF else { throw .badCall(function: f.qualifiedName, reason: "a character beyond Latin-1") }
                out.append(UInt8(u.value))
            }
            return out
        case "utf-8", "utf8": return Array(text.utf8)
        default: throw .badCall(function: f.qualifiedName, reason: "unsupported encoding \(encoding ?? "?")")
        }
    }

    func new(_ cls: PickleValue, _ argsValue: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .global(f) = cls else { throw .notCallable(cls.kind) }
        guard let args = argsValue.sequence else { throw .badCall(function: f.qualifiedName, reason: "arguments must be a tuple") }
        switch f {
        case .orderedDict, .size, .set: return try apply(f, args, nestedOK: false)
        default: throw .notCallable("'\(f.qualifiedName)' through NEWOBJ")
        }
    }
}
