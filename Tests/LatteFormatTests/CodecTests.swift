import Testing
import PropertyBased
import LatteCore
@testable import LatteFormat
import LatteTestSupport

@Suite struct CodecTests {
    /// encode → decode is the identity for every dtype, size and content, and the stored
    /// form is never larger than raw (beyond a raw fallback).
    @Test func chunkRoundTrip() async {
        await propertyCheck(count: 300, input: Gen<DType>.case, Gen.int(in: 0 ... 5000), Gen<Pattern>.case, Gen.uint64()) { dtype, count, pattern, seed in
            let bytes = makeBytes(dtype, count: dtype.byteWidth == nil ? count / 8 * 8 : count, pattern: pattern, seed: seed)
            guard !bytes.isEmpty else { return }
            let encoded = bytes.withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: CodecOptions()) }
            #expect(encoded.entry.raw == bytes.count)
            #expect(encoded.entry.length <= bytes.count)
            let stored = encoded.entry.codec == .raw ? bytes : encoded.bytes
            var out = [UInt8](repeating: 0xAA, count: bytes.count)
            try stored.withUnsafeBytes { s in
                try out.withUnsafeMutableBytes { try ChunkCoder.decode(encoded.entry, stored: s, into: $0) }
            }
            #expect(out == bytes, "\(dtype.name) × \(count) \(pattern) via \(encoded.entry.codec)")
        }
    }

    @Test func bytePlanesRoundTrip() async {
        await propertyCheck(input: Gen.int(in: 0 ... 3).map { [1, 2, 4, 8][$0] }, Gen.int(in: 0 ... 700), Gen.uint64()) { width, count, seed in
            let bytes = makeBytes(.u8, count: width * count, pattern: .random, seed: seed)
            var split = [UInt8](repeating: 0, count: bytes.count), back = split
            bytes.withUnsafeBytes { src in split.withUnsafeMutableBytes { BytePlanes.split(src, width: width, into: $0) } }
            split.withUnsafeBytes { src in back.withUnsafeMutableBytes { BytePlanes.merge(src, width: width, into: $0) } }
            #expect(back == bytes)
        }
    }

    /// BF16's exponent fills plane 1 exactly after the rotation.
    @Test func rotationPutsTheExponentInOneByte() {
        let one: UInt16 = 0x3F80  // 1.0: sign 0, exponent 127
        let minusOne: UInt16 = 0xBF80
        var out = [UInt8](repeating: 0, count: 4)
        let src: [UInt8] = [UInt8(one & 0xFF), UInt8(one >> 8), UInt8(minusOne & 0xFF), UInt8(minusOne >> 8)]
        src.withUnsafeBytes { s in out.withUnsafeMutableBytes { BytePlanes.split(s, width: 2, into: $0) } }
        #expect(out[2] == 127 && out[3] == 127)  // exponent plane
        #expect(out[0] == 0 && out[1] == 1)  // mantissa plane, the sign at the bottom
    }

    @Test func ransRoundTripAndNearEntropy() async {
        await propertyCheck(input: Gen.int(in: 0 ... 20000), Gen.int(in: 1 ... 256), Gen.uint64()) { n, alphabet, seed in
            var rng = SplitMix(state: seed)
            // Skewed: symbol k with weight ~ 1/(k+1)^2.
            let bytes = (0 ..< n).map { _ -> UInt8 in
                let u = Double(rng.next() >> 11) / Double(1 << 53)
                return UInt8(min(alphabet - 1, Int(1 / (1 - u * 0.999)) - 1))
            }
            let counts = bytes.withUnsafeBytes { ByteStats.histogram($0) }
            let stream = bytes.withUnsafeBytes { RANS.encode($0, counts: counts) }
            // Both decoders (AVX2 where the CPU has it, and the portable loop) give the input.
            for simd in [true, false] {
                var out = [UInt8](repeating: 0, count: n)
                try stream.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try RANS.decode(s, into: $0, simd: simd) } }
                #expect(out == bytes)
            }
            let bound = ByteStats.entropyBytes(counts)
            let header = Double(RANS.headerBytes(symbols: counts.filter { $0 > 0 }.count))
            #expect(Double(stream.count) <= bound * 1.02 + header + 8)
        }
    }

    /// Lengths around the 32-symbol rounds and the 64-byte margin of the vector loop.
    @Test func ransEdgeLengths() throws {
        // 0: found by FuzzRANS, the encoder wrote an empty table (sum 0) that no decoder accepts.
        for n in [0, 1, 2, 31, 32, 33, 63, 64, 65, 95, 96, 97, 1000, 4096 + 17] {
            let bytes = makeBytes(.u8, count: n, pattern: .random, seed: UInt64(n))
            let counts = bytes.withUnsafeBytes { ByteStats.histogram($0) }
            let stream = bytes.withUnsafeBytes { RANS.encode($0, counts: counts) }
            for simd in [true, false] {
                var out = [UInt8](repeating: 0, count: n)
                try stream.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try RANS.decode(s, into: $0, simd: simd) } }
                #expect(out == bytes, "n = \(n), simd = \(simd)")
            }
        }
    }

    @Test func ransRejectsDamage() {
        let bytes = makeBytes(.bf16, count: 4096, pattern: .weights, seed: 3)
        let counts = bytes.withUnsafeBytes { ByteStats.histogram($0) }
        let stream = bytes.withUnsafeBytes { RANS.encode($0, counts: counts) }
        let symbols = counts.filter { $0 > 0 }.count
        func decodes(_ s: [UInt8], simd: Bool) throws {
            var out = [UInt8](repeating: 0, count: bytes.count)
            try s.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try RANS.decode(s, into: $0, simd: simd) } }
        }
        for simd in [true, false] {
            // Truncated: the decoder runs out of words or ends in the wrong state, never reads past.
            #expect(throws: RANS.DecodeError.self) { try decodes(Array(stream.prefix(stream.count - 6)), simd: simd) }
            // An odd number of word bytes, and words left over.
            #expect(throws: RANS.DecodeError.trailingBytes) { try decodes(stream + [0], simd: simd) }
            #expect(throws: RANS.DecodeError.self) { try decodes(stream + [0, 0], simd: simd) }
            var table = stream
            table[RANS.tableBytes] ^= 0x01  // frequencies no longer sum to 2^12
            #expect(throws: RANS.DecodeError.badTable) { try decodes(table, simd: simd) }
            var state = stream
            state[RANS.tableBytes + 2 * symbols + 3] = 0x80  // lane 0's state at 2^31 or above
            #expect(throws: RANS.DecodeError.badState) { try decodes(state, simd: simd) }
            var word = stream
            word[word.count / 2] ^= 0x10  // a flipped bit in the word stream
            #expect(throws: RANS.DecodeError.self) { try decodes(word, simd: simd) }
        }
    }

    @Test func zstdRefusesWrongSize() {
        let bytes = [UInt8](repeating: 7, count: 10000)
        let z = bytes.withUnsafeBytes { Zstd.compress($0, .init(level: 3)) }!
        var out = [UInt8](repeating: 0, count: 9999)
        #expect(throws: Zstd.DecodeError.self) {
            try z.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try Zstd.decompress(s, into: $0) } }
        }
    }

    /// Each thread reuses one decompression context: a frame that failed halfway leaves
    /// nothing behind for the next frame decoded on that thread.
    @Test func aFailedZstdFrameLeavesNothingForTheNext() throws {
        let a = makeBytes(.f32, count: 20000, pattern: .weights, seed: 3), b = makeBytes(.f32, count: 20000, pattern: .weights, seed: 4)
        let za = a.withUnsafeBytes { Zstd.compress($0, .init(level: 3)) }!, zb = b.withUnsafeBytes { Zstd.compress($0, .init(level: 3)) }!
        var out = [UInt8](repeating: 0, count: a.count)
        for cut in [za.count / 3, za.count / 2, za.count - 1] {
            var damaged = za
            damaged[cut] ^= 0xA5
            // The same thread: the damaged frame (refused, or decoded to other bytes) then b.
            _ = try? damaged.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try Zstd.decompress(s, into: $0) } }
            try zb.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try Zstd.decompress(s, into: $0) } }
            #expect(out == b, "after damage at \(cut)")
        }
        try za.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try Zstd.decompress(s, into: $0) } }
        #expect(out == a)
    }

    /// The estimate picks raw for random planes and an entropy coder for exponent planes.
    @Test func planeChoiceFollowsEntropy() {
        let random = makeBytes(.bf16, count: 8192, pattern: .random, seed: 1)
        let r = random.withUnsafeBytes { ChunkCoder.encode($0, dtype: .bf16, options: CodecOptions()) }
        #expect(r.entry.codec == .raw)
        let weights = makeBytes(.bf16, count: 8192, pattern: .weights, seed: 1)
        let w = weights.withUnsafeBytes { ChunkCoder.encode($0, dtype: .bf16, options: CodecOptions()) }
        #expect(w.entry.codec == .planes)
        #expect(w.entry.planes.map(\.codec) == [.raw, .rans32])
        #expect(Double(w.entry.length) < 0.75 * Double(weights.count))
    }
}
