import Testing
import PropertyBased
import LatteCore
@testable import LatteFormat
import LatteTestSupport

/// Non-float chunks (issue 13, point 3): never larger than zstd at the writer's level, never
/// larger than raw, and decoded exactly whichever of zstd, one rans32 plane or raw was chosen.
@Suite struct BytewiseCodingTests {
    /// int8-like data: a skewed distribution without matches, several alphabets and sizes.
    static func skewed(_ n: Int, spread: Double, seed: UInt64) -> [UInt8] {
        var rng = SplitMix(state: seed)
        return (0 ..< n).map { _ in
            // A sum of uniforms: near-Gaussian, centred at 0, as quantized weights are.
            let u = (0 ..< 4).reduce(0.0) { s, _ in s + Double(rng.next() >> 11) / Double(1 << 53) } - 2
            return UInt8(bitPattern: Int8(clamping: Int((u * spread).rounded())))
        }
    }

    @Test func neverLargerThanZstdNorRaw() async {
        let dtypes: [DType] = [.i8, .u8, .i16, .i32, .i64, .bool]
        await propertyCheck(count: 200, input: Gen.int(in: 0 ..< dtypes.count), Gen.int(in: 1 ... 70000), Gen.int(in: 0 ... 3), Gen.uint64()) { d, n, kind, seed in
            let dtype = dtypes[d]
            let w = dtype.byteWidth ?? 1
            let count = n / w * w
            guard count > 0 else { return }
            let bytes: [UInt8] = switch kind {
            case 0: Self.skewed(count, spread: 30, seed: seed)
            case 1: makeBytes(.u8, count: count, pattern: .random, seed: seed)
            case 2: (0 ..< count).map { UInt8(truncatingIfNeeded: $0 / 7) }  // runs: zstd's matches win
            default: makeBytes(dtype, count: count / w, pattern: .weights, seed: seed)
            }
            let options = CodecOptions()
            let encoded = bytes.withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: options) }
            let zstd = bytes.withUnsafeBytes { Zstd.compress($0, Zstd.Parameters(level: options.level)) }
            #expect(encoded.entry.length <= min(zstd?.count ?? count, count), "\(dtype.name) kind \(kind): \(encoded.entry.codec)")
            let stored = encoded.entry.codec == .raw ? bytes : encoded.bytes
            var out = [UInt8](repeating: 0x55, count: count)
            try stored.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try ChunkCoder.decode(encoded.entry, stored: s, into: $0) } }
            #expect(out == bytes)
        }
    }

    /// On matchless skewed bytes the order-0 coder is chosen: smaller than zstd (0.8 % here).
    @Test func int8WeightsTakeRANS() {
        let bytes = Self.skewed(1 << 20, spread: 30, seed: 7)
        let encoded = bytes.withUnsafeBytes { ChunkCoder.encode($0, dtype: .i8, options: CodecOptions()) }
        let zstd = bytes.withUnsafeBytes { Zstd.compress($0, Zstd.Parameters(level: 3)) }!
        #expect(encoded.entry.codec == .planes && encoded.entry.width == 1 && encoded.entry.planes.map(\.codec) == [.rans32])
        #expect(encoded.entry.length < zstd.count)
    }

    /// Embedded files keep to raw and zstd chunks, whatever their bytes.
    @Test func blobsStayZstdOrRaw() {
        let bytes = Self.skewed(1 << 16, spread: 30, seed: 9)
        let encoded = bytes.withUnsafeBytes { ChunkCoder.encodeBytes($0, options: CodecOptions()) }
        #expect(encoded.entry.codec == .zstd)
    }
}
