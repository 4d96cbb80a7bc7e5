import LatteCore
import LatteReaders

/// A tensor of a synthetic checkpoint, written by `SafetensorsWriter` as it is.
public struct SyntheticTensor: SafetensorsView, Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var bytes: [UInt8]

    public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
    }

    /// A tensor of `shape` whose bytes are all `fill`.
    public init(name: String, dtype: DType, shape: [Int], filledWith fill: UInt8 = 0) {
        let count = dtype.byteCount(elements: elementCount(of: shape) ?? 0) ?? 0
        self.init(name: name, dtype: dtype, shape: shape, bytes: [UInt8](repeating: fill, count: count))
    }

    public var byteCount: Int { bytes.count }

    public func writeBytes(_ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }
}

/// The kinds of content the codec properties are checked on.
public enum Pattern: CaseIterable, Sendable {
    case random, weights, special, constant
}

/// `count` elements of `dtype` following `pattern`.
public func makeBytes(_ dtype: DType, count: Int, pattern: Pattern, seed: UInt64) -> [UInt8] {
    var rng = SplitMix(state: seed)
    let n = dtype.byteCount(elements: count) ?? (count * dtype.bitWidth + 7) / 8
    var out = [UInt8](repeating: 0, count: n)
    switch pattern {
    case .random:
        for i in 0 ..< n { out[i] = UInt8(truncatingIfNeeded: rng.next()) }
    case .constant:
        let v = UInt8(truncatingIfNeeded: rng.next())
        for i in 0 ..< n { out[i] = v }
    case .weights, .special:
        let width = dtype.byteWidth ?? 1
        for e in 0 ..< n / width {
            var bits = weightBits(dtype, &rng)
            if pattern == .special, rng.next() % 3 == 0 { bits = specialBits[Int(rng.next() % UInt64(specialBits.count))] }
            for k in 0 ..< width { out[e * width + k] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k))) }
        }
    }
    return out
}

/// One weight-like element of `dtype` (small, roughly normal), as its bits.
private func weightBits(_ dtype: DType, _ rng: inout SplitMix) -> UInt64 {
    let w = rng.normal() * 0.02
    switch dtype {
    case .f32, .c64: return UInt64(Float(w).bitPattern)
    case .f64, .c128: return Double(w).bitPattern
    case .bf16: return UInt64(Float(w).bitPattern >> 16)
    case .f16: return UInt64(Float16(Float(w)).bitPattern)
    default: return rng.next() & 0x0F
    }
}

/// NaNs with payloads, ±Inf, subnormals, ±0, all-ones: every edge bit pattern.
private let specialBits: [UInt64] = [
    0, ~0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x7F80, 0xFF80, 0x7FC1, 0x0001,
    0x7F80_0000, 0xFF80_0000, 0x7FC0_0001, 0x0000_0001, 0x8000_0001, 0x7C00, 0x7E01,
    0x7FF0_0000_0000_0000, 0x7FF8_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF,
]

/// A checkpoint with weight-like tensors of several dtypes, a few MiB, so tensors span
/// several chunks at a small chunk size.
public func syntheticCheckpoint(seed: UInt64 = 7) -> [SyntheticTensor] {
    let specs: [(String, DType, [Int], Pattern)] = [
        ("embed.weight", .bf16, [512, 256], .weights),
        ("layers.0.attn.weight", .f32, [256, 256], .weights),
        ("layers.0.norm.weight", .f16, [256], .special),
        ("layers.1.mlp.weight", .f64, [64, 64], .weights),
        ("position_ids", .i64, [1, 512], .constant),
        ("mask", .bool, [3, 5], .random),
        ("empty", .f32, [0, 4], .random),
        ("scalar", .bf16, [], .special),
        ("codes", .u8, [1000], .random),
        ("fp8", .f8e4m3, [100], .random),
    ]
    return specs.enumerated().map { i, s in
        SyntheticTensor(name: s.0, dtype: s.1, shape: s.2,
                        bytes: makeBytes(s.1, count: elementCount(of: s.2)!, pattern: s.3, seed: seed &+ UInt64(i)))
    }
}
