import CLatteRANS

/// The `rans32` plane codec of FORMAT.md: an order-0 rANS coder for one byte plane, with 32
/// interleaved lanes and 16-bit renormalization. The hot loops are C (`CLatteRANS`: AVX2
/// decoding, 8 lanes per instruction); this type reads, checks and writes the stream header.
///
/// Why not zstd here: the exponent plane of trained weights has no long matches, only a
/// skewed symbol distribution. zstd spends bits on sequences and codes literals with
/// Huffman (whole-bit code lengths); rANS with a 12-bit probability table gets within a
/// fraction of a percent of the plane's order-0 entropy, which is what the size targets need.
///
/// Stream: a 32-byte bitmap of the symbols present (bit `s & 7` of byte `s >> 3`), then one
/// UInt16 LE frequency per present symbol in ascending symbol order (they sum to 2^12), then
/// 32 coder states as UInt32 LE (lane 0 first), then the word stream (UInt16 LE words, in the
/// order the decoder reads them). Symbol `i` is coded by lane `i % 32`.
public enum RANS {
    /// 12-bit probabilities: the decode table (4096 four-byte entries) stays in L1.
    static let scaleBits: UInt32 = 12
    static let scale: UInt32 = 1 << 12
    static let lanes = Int(LR_LANES)
    static let tableBytes = 32
    static let statesBytes = 4 * Int(LR_LANES)

    /// Stream bytes before the words, for `symbols` distinct symbols.
    static func headerBytes(symbols: Int) -> Int { tableBytes + 2 * symbols + statesBytes }

    /// Frequencies (summing to `scale`, every present symbol at least 1) from a histogram.
    static func normalize(_ counts: [Int]) -> [UInt16] {
        let total = counts.reduce(0, +)
        var freq = [Int64](repeating: 0, count: 256)
        // No symbols: a table of one symbol keeps the stream valid (the sum must be 2^12).
        guard total > 0 else { return [UInt16(scale)] + [UInt16](repeating: 0, count: 255) }
        var sum: Int64 = 0
        for s in 0 ..< 256 where counts[s] > 0 {
            let f = max(1, (Int64(counts[s]) * Int64(scale) + Int64(total) / 2) / Int64(total))
            freq[s] = f
            sum += f
        }
        // Rounding leaves the sum a little off; the error goes to the largest frequencies,
        // where one count more or less costs the least.
        while sum != Int64(scale) {
            var best = -1
            for s in 0 ..< 256 where freq[s] > (sum > Int64(scale) ? 1 : 0) && (best < 0 || freq[s] > freq[best]) { best = s }
            if sum > Int64(scale) {
                let take = min(freq[best] - 1, sum - Int64(scale), max(1, freq[best] / 8))
                freq[best] -= take
                sum -= take
            } else {
                freq[best] += Int64(scale) - sum
                sum = Int64(scale)
            }
        }
        return freq.map { UInt16($0) }
    }

    /// Encodes `input`, whose byte histogram is `counts` (256 entries); returns the stream
    /// described above.
    public static func encode(_ input: UnsafeRawBufferPointer, counts: [Int]) -> [UInt8] {
        let freq = normalize(counts)
        let n = input.count
        let capacity = 2 * n + 2
        let body = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { body.deallocate() }
        var states = [UInt32](repeating: 0, count: lanes)
        let length = freq.withUnsafeBufferPointer { f in
            states.withUnsafeMutableBufferPointer { st in
                lr_rans32_encode(input.bindMemory(to: UInt8.self).baseAddress, Int64(n), f.baseAddress, body, Int64(capacity), st.baseAddress)
            }
        }
        precondition(length >= 0, "rANS buffer sized below its worst case")
        let present = (0 ..< 256).filter { freq[$0] > 0 }
        var stream = [UInt8](repeating: 0, count: tableBytes)
        stream.reserveCapacity(headerBytes(symbols: present.count) + Int(length))
        for s in present { stream[s >> 3] |= 1 << UInt8(s & 7) }
        for s in present {
            stream.append(UInt8(truncatingIfNeeded: freq[s]))
            stream.append(UInt8(truncatingIfNeeded: freq[s] >> 8))
        }
        for word in states {
            for k in 0 ..< 4 { stream.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(k)))) }
        }
        stream.append(contentsOf: UnsafeBufferPointer(start: body + capacity - Int(length), count: Int(length)))
        return stream
    }

    /// Why a rANS stream could not be decoded.
    public enum DecodeError: Error, Equatable { case badTable, badState, truncated, trailingBytes, badFinalState }

    /// Decodes `out.count` symbols of `stream` into `out`. `simd: false` forces the portable
    /// loop (tests compare the two).
    public static func decode(_ stream: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer, simd: Bool = true) throws(DecodeError) {
        guard stream.count >= tableBytes else { throw .badTable }
        var freq = [UInt16](repeating: 0, count: 256)
        var p = tableBytes
        var sum = 0
        for s in 0 ..< 256 where stream[s >> 3] & (1 << UInt8(s & 7)) != 0 {
            guard p + 2 <= stream.count else { throw .badTable }
            let f = UInt16(stream[p]) | UInt16(stream[p + 1]) << 8
            guard f > 0, sum + Int(f) <= Int(scale) else { throw .badTable }
            freq[s] = f
            sum += Int(f)
            p += 2
        }
        guard sum == Int(scale) else { throw .badTable }
        guard p + statesBytes <= stream.count else { throw .truncated }
        var states = [UInt32](repeating: 0, count: lanes)
        for j in 0 ..< lanes { states[j] = UInt32(littleEndian: stream.loadUnaligned(fromByteOffset: p + 4 * j, as: UInt32.self)) }
        p += statesBytes
        let words = UnsafeRawBufferPointer(rebasing: stream[p...])
        let status = freq.withUnsafeBufferPointer { f in
            states.withUnsafeBufferPointer { st in
                lr_rans32_decode(words.bindMemory(to: UInt8.self).baseAddress, Int64(words.count), st.baseAddress, f.baseAddress,
                                 out.bindMemory(to: UInt8.self).baseAddress, Int64(out.count), simd ? 1 : 0)
            }
        }
        switch Int(status) {
        case Int(LR_OK): return
        case Int(LR_TRUNCATED): throw .truncated
        case Int(LR_TRAILING): throw .trailingBytes
        case Int(LR_BAD_FINAL): throw .badFinalState
        case Int(LR_BAD_STATE): throw .badState
        default: throw .badTable
        }
    }

    /// Whether `decode` runs its AVX2 loop on this machine.
    public static var hasSIMD: Bool { lr_rans32_has_simd() != 0 }
}
