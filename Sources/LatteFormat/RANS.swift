/// An order-0 rANS entropy coder for one byte plane (the `rans` plane codec of FORMAT.md).
///
/// Why not zstd here: the exponent plane of trained weights has no long matches, only a
/// skewed symbol distribution. zstd spends bits on sequences and codes literals with
/// Huffman (whole-bit code lengths); rANS with a 14-bit probability table gets within a
/// fraction of a percent of the plane's order-0 entropy, which is what the size targets need.
///
/// Stream: a 32-byte bitmap of the symbols present (bit `s & 7` of byte `s >> 3`), then one
/// UInt16 LE frequency per present symbol in ascending symbol order (they sum to 2^14), then
/// the coder's final state as UInt32 LE, then the renormalization bytes in the order the
/// decoder reads them. The decoder must end in state 2^23 having read every byte.
enum RANS {
    static let scaleBits: UInt32 = 14
    static let scale: UInt32 = 1 << 14
    /// The lower bound of the normalized state interval [L, 256·L).
    static let lowerBound: UInt32 = 1 << 23
    static let tableBytes = 32

    /// Frequencies (summing to `scale`, every present symbol at least 1) from a histogram.
    static func normalize(_ counts: [Int]) -> [UInt32] {
        let total = counts.reduce(0, +)
        var freq = [UInt32](repeating: 0, count: 256)
        guard total > 0 else { return freq }
        var sum: Int64 = 0
        for s in 0 ..< 256 where counts[s] > 0 {
            let f = max(1, Int64(counts[s]) * Int64(scale) / Int64(total))
            freq[s] = UInt32(f)
            sum += f
        }
        // Rounding leaves the sum a little off; the error goes to the largest frequencies,
        // where one count more or less costs the least.
        while sum != Int64(scale) {
            var best = -1
            for s in 0 ..< 256 where freq[s] > (sum > Int64(scale) ? 1 : 0) && (best < 0 || freq[s] > freq[best]) { best = s }
            if sum > Int64(scale) {
                let take = min(Int64(freq[best]) - 1, sum - Int64(scale), max(1, Int64(freq[best]) / 8))
                freq[best] -= UInt32(take)
                sum -= take
            } else {
                let give = Int64(scale) - sum
                freq[best] += UInt32(give)
                sum += give
            }
        }
        return freq
    }

    /// Encodes `input`; returns the stream described above.
    static func encode(_ input: UnsafeRawBufferPointer, counts: [Int]) -> [UInt8] {
        let freq = normalize(counts)
        var cum = [UInt32](repeating: 0, count: 257)
        for s in 0 ..< 256 { cum[s + 1] = cum[s] + freq[s] }
        // Reciprocals replace the division per symbol (Fabian Giesen's rans_byte trick);
        // they change nothing in the stream, only the speed.
        var rcp = [UInt64](repeating: 0, count: 256), rcpShift = [UInt32](repeating: 0, count: 256)
        var bias = [UInt32](repeating: 0, count: 256), cmpl = [UInt32](repeating: 0, count: 256)
        var xMax = [UInt32](repeating: 0, count: 256)
        for s in 0 ..< 256 where freq[s] > 0 {
            let f = freq[s]
            xMax[s] = ((lowerBound >> scaleBits) << 8) &* f
            cmpl[s] = scale - f
            if f < 2 {
                rcp[s] = 0xFFFF_FFFF
                rcpShift[s] = 0
                bias[s] = cum[s] + scale - 1
            } else {
                var shift: UInt32 = 0
                while f > (UInt32(1) << shift) { shift += 1 }
                rcp[s] = ((UInt64(1) << (UInt64(shift) + 31)) + UInt64(f) - 1) / UInt64(f)
                rcpShift[s] = shift - 1
                bias[s] = cum[s]
            }
        }
        let n = input.count
        // Worst case: 14 bits per symbol plus the state.
        let capacity = n * 2 + 8
        var body = [UInt8](repeating: 0, count: capacity)
        var pos = capacity
        var x = lowerBound
        body.withUnsafeMutableBufferPointer { out in
            rcp.withUnsafeBufferPointer { rcp in
            rcpShift.withUnsafeBufferPointer { rcpShift in
            bias.withUnsafeBufferPointer { bias in
            cmpl.withUnsafeBufferPointer { cmpl in
            xMax.withUnsafeBufferPointer { xMax in
                let src = input.bindMemory(to: UInt8.self)
                var i = n
                while i > 0 {
                    i -= 1
                    let s = Int(src[i])
                    let m = xMax[s]
                    while x >= m {
                        pos -= 1
                        out[pos] = UInt8(truncatingIfNeeded: x)
                        x >>= 8
                    }
                    let q = UInt32(truncatingIfNeeded: (UInt64(x) &* rcp[s]) >> 32) >> rcpShift[s]
                    x = x &+ bias[s] &+ q &* cmpl[s]
                }
            }}}}}
        }
        var stream = [UInt8](repeating: 0, count: tableBytes)
        stream.reserveCapacity(tableBytes + 512 + 4 + capacity - pos)
        for s in 0 ..< 256 where freq[s] > 0 {
            stream[s >> 3] |= 1 << UInt8(s & 7)
        }
        for s in 0 ..< 256 where freq[s] > 0 {
            stream.append(UInt8(truncatingIfNeeded: freq[s]))
            stream.append(UInt8(truncatingIfNeeded: freq[s] >> 8))
        }
        for k in 0 ..< 4 { stream.append(UInt8(truncatingIfNeeded: x >> (8 * UInt32(k)))) }
        stream.append(contentsOf: body[pos...])
        return stream
    }

    /// Why a rANS stream could not be decoded.
    enum DecodeError: Error { case badTable, truncated, trailingBytes, badFinalState }

    /// Decodes `count` symbols of `stream` into `out` (exactly `count` bytes).
    static func decode(_ stream: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(DecodeError) {
        let count = out.count
        guard stream.count >= tableBytes else { throw .badTable }
        var freq = [UInt32](repeating: 0, count: 256)
        var p = tableBytes
        var sum: UInt32 = 0
        for s in 0 ..< 256 where stream[s >> 3] & (1 << UInt8(s & 7)) != 0 {
            guard p + 2 <= stream.count else { throw .badTable }
            let f = UInt32(stream[p]) | UInt32(stream[p + 1]) << 8
            guard f > 0, f <= scale else { throw .badTable }
            freq[s] = f
            sum += f
            p += 2
        }
        guard sum == scale else { throw .badTable }
        guard p + 4 <= stream.count else { throw .truncated }
        var x = UInt32(stream[p]) | UInt32(stream[p + 1]) << 8 | UInt32(stream[p + 2]) << 16 | UInt32(stream[p + 3]) << 24
        p += 4
        var cum = [UInt32](repeating: 0, count: 256)
        var symbolOf = [UInt8](repeating: 0, count: Int(scale))
        var c: UInt32 = 0
        for s in 0 ..< 256 where freq[s] > 0 {
            cum[s] = c
            for k in c ..< c + freq[s] { symbolOf[Int(k)] = UInt8(s) }
            c += freq[s]
        }
        let mask = scale - 1
        let end = stream.count
        var overrun = false
        freq.withUnsafeBufferPointer { freq in
        cum.withUnsafeBufferPointer { cum in
        symbolOf.withUnsafeBufferPointer { symbolOf in
            let dst = out.bindMemory(to: UInt8.self)
            let src = stream.bindMemory(to: UInt8.self)
            for i in 0 ..< count {
                let slot = x & mask
                let s = symbolOf[Int(slot)]
                dst[i] = s
                x = freq[Int(s)] &* (x >> scaleBits) &+ slot &- cum[Int(s)]
                while x < lowerBound {
                    guard p < end else { overrun = true; return }
                    x = (x << 8) | UInt32(src[p])
                    p += 1
                }
            }
        }}}
        if overrun { throw .truncated }
        guard p == end else { throw .trailingBytes }
        guard x == lowerBound else { throw .badFinalState }
    }
}
