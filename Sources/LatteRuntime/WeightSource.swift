import CLatteKernels
import LatteCore
import LatteSystem

/// Where the runtime gets its weights: by name, decoded to float32, one tensor at a time.
///
/// The runtime asks for the replica layers of timestep group k only when a step of group k
/// needs them (one group held at a time): `prepare(group: k)`, then one `read` of the whole
/// group, then `finish(group: k)`. A compressed source streams that group's section in that
/// read (and nothing else). Context-model and shared tensors are read without a `prepare`.
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

    /// Decodes every tensor of `reads` into its destination (disjoint buffers), possibly
    /// on several threads: the runtime asks for a whole replica group in one call.
    func read(_ reads: [WeightRead]) throws

    /// Called once before the tensors of replica group `group` are read.
    func prepare(group: Int) throws

    /// Called once the tensors of replica group `group` are read: what `prepare` kept may go.
    func finish(group: Int)

    /// Bytes of tensor `name` as stored (for read throughput), nil when unknown.
    func storedBytes(_ name: String) -> Int?

    /// Bytes a read of tensor `name` holds beyond the caller's buffer while it runs (a
    /// decoded or gathered copy), for the memory estimate; 0 when it reads in place.
    func readScratchBytes(_ name: String) -> Int?

    /// Bytes one `read` of the tensors `names` together holds beyond the callers' buffers.
    func readScratchBytes(_ names: [String]) -> Int?

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

    public func finish(group: Int) {}

    public func storedBytes(_ name: String) -> Int? { nil }

    /// One tensor after another.
    public func read(_ reads: [WeightRead]) throws {
        for r in reads { try read(r.name, into: r.destination) }
    }

    public func readScratchBytes(_ name: String) -> Int? { 0 }

    /// The largest single tensor's: a source reading one tensor after another.
    public func readScratchBytes(_ names: [String]) -> Int? {
        let each = names.map { readScratchBytes($0) }
        return each.contains { $0 == nil } ? nil : each.map { $0! }.max() ?? 0
    }

    public func preparedBytes(group: Int) -> Int? { 0 }

    /// The whole tensor as a new array.
    public func float32(_ name: String) throws -> [Float] {
        guard let shape = shape(name), let n = elementCount(of: shape) else { throw RuntimeError.missingTensor(name) }
        var out = [Float](repeating: 0, count: n)
        try out.withUnsafeMutableBufferPointer { try read(name, into: $0) }
        return out
    }
}

/// One tensor to decode to float32 into `destination` (its element count).
public struct WeightRead {
    public let name: String
    public let destination: UnsafeMutableBufferPointer<Float>

    public init(name: String, destination: UnsafeMutableBufferPointer<Float>) {
        self.name = name
        self.destination = destination
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
