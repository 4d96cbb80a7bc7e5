import CLatteKernels
import LatteCore
import LatteSystem

/// Where the runtime gets its weights: by name, decoded to float32, one tensor at a time.
///
/// The runtime asks for the replica layers of timestep group k only when a step of group k
/// first runs, and calls `prepare(group: k)` right before, once per group: a compressed
/// source decompresses that group's section there (and nothing else). Context-model and
/// shared tensors are read without a `prepare` call.
public protocol WeightSource: AnyObject {
    /// The tensor's shape, or nil when the source has no such tensor. Must not read data.
    func shape(_ name: String) -> [Int]?

    /// Decodes the whole tensor `name` to float32 into `destination`, whose count is the
    /// tensor's element count.
    func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws

    /// Decodes rows `rows` (indices into the first dimension) of tensor `name`, one after
    /// another, into `destination` (rows.count × row length). Used for the token embedding,
    /// where only the context's rows are needed.
    func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws

    /// Called once before the first tensor of replica group `group` is read.
    func prepare(group: Int) throws

    /// Bytes a read of tensor `name` holds beyond the caller's buffer while it runs (a
    /// decoded or gathered copy), for the memory estimate; 0 when it reads in place.
    func readScratchBytes(_ name: String) -> Int?

    /// Bytes `prepare(group:)` keeps until the next `prepare` (a decoded copy of the
    /// group), for the memory estimate.
    func preparedBytes(group: Int) -> Int?
}

extension WeightSource {
    /// Reads the whole tensor and copies out the rows: correct for any source; sources that
    /// can reach one row cheaply override it.
    public func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let shape = shape(name), let first = shape.first, let total = elementCount(of: shape) else {
            throw RuntimeError.missingTensor(name)
        }
        let rowLength = first == 0 ? 0 : total / first
        var all = [Float](repeating: 0, count: total)
        try all.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        for (i, r) in rows.enumerated() {
            precondition(r >= 0 && r < first, "row \(r) outside \(name)")
            for j in 0 ..< rowLength { destination[i * rowLength + j] = all[r * rowLength + j] }
        }
    }

    public func prepare(group: Int) throws {}

    public func readScratchBytes(_ name: String) -> Int? { 0 }

    public func preparedBytes(group: Int) -> Int? { 0 }

    /// The whole tensor as a new array.
    public func float32(_ name: String) throws -> [Float] {
        guard let shape = shape(name), let n = elementCount(of: shape) else { throw RuntimeError.missingTensor(name) }
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return out
    }
}

/// Decoding stored float elements (little-endian) to float32.
public enum FloatDecoding {
    /// The dtypes weights may be stored in.
    public static let weightDTypes: [DType] = [.f32, .f16, .bf16, .f64]

    /// Decodes `count` elements of `dtype` from `raw` (little-endian, contiguous) into
    /// `destination`. `tensor` names the tensor in errors.
    public static func decode(_ raw: UnsafeRawBufferPointer, dtype: DType, count: Int,
                              into destination: UnsafeMutablePointer<Float>, tensor: String) throws {
        guard weightDTypes.contains(dtype), let width = dtype.byteWidth else {
            throw RuntimeError.unsupportedDType(tensor: tensor, dtype: dtype, allowed: weightDTypes)
        }
        guard raw.count == count * width else {
            throw RuntimeError.wrongByteCount(tensor: tensor, expected: count * width, found: raw.count)
        }
        guard count > 0, let base = raw.baseAddress else { return }
        switch dtype {
        case .f32:
            destination.withMemoryRebound(to: UInt8.self, capacity: count * 4) { d in
                d.update(from: base.assumingMemoryBound(to: UInt8.self), count: count * 4)
            }
            #if _endian(big)
            for i in 0 ..< count { destination[i] = Float(bitPattern: UInt32(littleEndian: destination[i].bitPattern)) }
            #endif
        #if _endian(little)
        case .bf16:
            lk_bf16_to_f32(base.assumingMemoryBound(to: UInt16.self), destination, Int64(count))
        case .f16:
            lk_f16_to_f32(base.assumingMemoryBound(to: UInt16.self), destination, Int64(count))
        #else
        case .bf16:
            for i in 0 ..< count {
                let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = Float(bitPattern: UInt32(bits) << 16)
            }
        case .f16:
            for i in 0 ..< count {
                let bits = UInt16(littleEndian: base.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                destination[i] = Float(halfBits: bits)
            }
        #endif
        case .f64:
            for i in 0 ..< count {
                let bits = UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))
                destination[i] = Float(Double(bitPattern: bits))
            }
        default:
            throw RuntimeError.unsupportedDType(tensor: tensor, dtype: dtype, allowed: weightDTypes)
        }
    }
}

extension Float {
    /// The float32 value of IEEE binary16 bits (exact: every half is a float).
    init(halfBits h: UInt16) {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F)
        let mant = UInt32(h & 0x3FF)
        if exp == 0x1F {
            self = Float(bitPattern: sign | 0x7F80_0000 | (mant << 13))
        } else if exp == 0 {
            // Zero or subnormal: mant * 2^-24, exact in float32.
            let magnitude = Float(mant) * Float(sign: .plus, exponent: -24, significand: 1)
            self = sign != 0 ? -magnitude : magnitude
        } else {
            self = Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
        }
    }
}

/// Weights read from an opened checkpoint (safetensors, sharded or any reader's output):
/// the bytes stay in the memory map and only the tensors asked for are decoded.
///
/// After decoding a tensor that is a slice of the map, its whole pages are handed back to
/// the kernel (`madvise(MADV_DONTNEED)`, the map is read-only and private, so they are
/// simply re-read from the file if ever touched again): the process keeps the float32 copy
/// only, and weights read once (the context model, read layer by layer during a prefill)
/// do not stay in its resident set.
public final class CheckpointWeightSource: WeightSource, Sendable {
    public let checkpoint: Checkpoint
    /// Whether to release the file pages of a tensor once it is decoded.
    public let releasesPagesAfterReading: Bool

    public init(_ checkpoint: Checkpoint, releasesPagesAfterReading: Bool = true) {
        self.checkpoint = checkpoint
        self.releasesPagesAfterReading = releasesPagesAfterReading
    }

    private func release(_ raw: UnsafeRawBufferPointer) {
        if releasesPagesAfterReading { advise(raw, .drop) }
    }

    public func shape(_ name: String) -> [Int]? { checkpoint.tensor(named: name)?.shape }

    /// A tensor that is not a dense slice of the map (a strided or big-endian view) is
    /// materialized once per read.
    public func readScratchBytes(_ name: String) -> Int? {
        guard let e = checkpoint.tensor(named: name), !e.isContiguous else { return 0 }
        return e.dtype.byteCount(elements: e.elementCount)
    }

    private func entry(_ name: String) throws -> TensorEntry {
        guard let e = checkpoint.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
        guard FloatDecoding.weightDTypes.contains(e.dtype) else {
            throw RuntimeError.unsupportedDType(tensor: name, dtype: e.dtype, allowed: FloatDecoding.weightDTypes)
        }
        return e
    }

    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let e = try entry(name)
        guard destination.count == e.elementCount else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: e.elementCount * 4)
        }
        guard let base = destination.baseAddress else { return }
        let bytes = try checkpoint.bytes(of: e)
        try bytes.withUnsafeBytes { raw in
            try FloatDecoding.decode(raw, dtype: e.dtype, count: e.elementCount, into: base, tensor: name)
            if bytes.isZeroCopy { release(raw) }
        }
    }

    public func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        let e = try entry(name)
        guard let first = e.shape.first, let width = e.dtype.byteWidth else { throw RuntimeError.missingTensor(name) }
        let rowLength = first == 0 ? 0 : e.elementCount / first
        guard destination.count == rows.count * rowLength else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: rows.count * rowLength * 4)
        }
        guard rowLength > 0, !rows.isEmpty else { return }
        let bytes = try checkpoint.bytes(of: e)
        try bytes.withUnsafeBytes { raw in
            for (i, r) in rows.enumerated() {
                guard r >= 0 && r < first else {
                    throw RuntimeError.badInput(tensor: name, reason: "row \(r) outside 0 ..< \(first)")
                }
                let slice = UnsafeRawBufferPointer(rebasing: raw[r * rowLength * width ..< (r + 1) * rowLength * width])
                try FloatDecoding.decode(slice, dtype: e.dtype, count: rowLength,
                                         into: destination.baseAddress! + i * rowLength, tensor: name)
            }
        }
    }

    public func prepare(group: Int) throws {}
}

/// A weight source built from closures over any container that can hand out a tensor's
/// stored bytes (little-endian, contiguous) with its dtype: the float32 decoding, shape
/// checks and row reads are done here. A `.latte` file plugs in with three closures: its
/// tensor shapes, its (decompressed) tensor bytes, and the decompression of one group's
/// section in `prepare`.
public final class ClosureWeightSource: WeightSource {
    public typealias BytesAccess = (_ name: String, _ body: (DType, UnsafeRawBufferPointer) throws -> Void) throws -> Void
    private let shapeOf: (String) -> [Int]?
    private let withBytes: BytesAccess
    private let prepareGroup: (Int) throws -> Void

    /// - Parameters:
    ///   - shape: the tensor's shape, nil when absent (must not read data).
    ///   - withBytes: calls `body` with the tensor's dtype and its contiguous little-endian bytes.
    ///   - prepare: called once before the first tensor of a replica group is read.
    public init(shape: @escaping (String) -> [Int]?, withBytes: @escaping BytesAccess,
                prepare: @escaping (Int) throws -> Void = { _ in }) {
        shapeOf = shape
        self.withBytes = withBytes
        prepareGroup = prepare
    }

    public func shape(_ name: String) -> [Int]? { shapeOf(name) }

    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let shape = shapeOf(name), let n = elementCount(of: shape) else { throw RuntimeError.missingTensor(name) }
        guard destination.count == n else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: n * 4)
        }
        guard let base = destination.baseAddress else { return }
        try withBytes(name) { dtype, raw in
            try FloatDecoding.decode(raw, dtype: dtype, count: n, into: base, tensor: name)
        }
    }

    public func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        guard let shape = shapeOf(name), let first = shape.first, let n = elementCount(of: shape) else {
            throw RuntimeError.missingTensor(name)
        }
        let rowLength = first == 0 ? 0 : n / first
        guard destination.count == rows.count * rowLength else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: rows.count * rowLength * 4)
        }
        guard rowLength > 0, !rows.isEmpty, let base = destination.baseAddress else { return }
        try withBytes(name) { dtype, raw in
            guard let width = dtype.byteWidth, raw.count == n * width else {
                throw RuntimeError.wrongByteCount(tensor: name, expected: n * (dtype.byteWidth ?? 0), found: raw.count)
            }
            for (i, r) in rows.enumerated() {
                guard r >= 0 && r < first else { throw RuntimeError.badInput(tensor: name, reason: "row \(r) outside 0 ..< \(first)") }
                let slice = UnsafeRawBufferPointer(rebasing: raw[r * rowLength * width ..< (r + 1) * rowLength * width])
                try FloatDecoding.decode(slice, dtype: dtype, count: rowLength, into: base + i * rowLength, tensor: name)
            }
        }
    }

    public func prepare(group: Int) throws { try prepareGroup(group) }
}
