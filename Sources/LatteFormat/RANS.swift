/// An order-0 rANS entropy coder for one byte plane (the `rans` plane codec of FORMAT.md).
///
/// Why not zstd here: the exponent plane of trained weights has no long matches, only a
/// skewed symbol distribution. zstd spends bits on sequences and codes literals with
/// Huffman (whole-bit code lengths); rANS with a 14-bit probability table gets within a
/// fraction of a percent of the plane's order-0 entropy, which is what the size targets need.
///
/// Stream: a 32-byte bitmap of the symbols present (bit `s & 7` of byte `s >> 3`), then one
/// UInt16 LE frequency per present symbol in ascending symbol order (they sum to 2^14), then
/// four coder states as UInt32 LE, then the renormalization bytes in the order the decoder
/// reads them. Symbol `i` is coded by state `i % 4` (four independent dependency chains run
/// in parallel on one core); every state must end at 2^23 with every byte read.
enum RANS {
    static let scaleBits: UInt32 = 14
    static let scale: UInt32 = 1 << 14
    /// The lower bound of the normalized state interval [L, 256·L).
    static let lowerBound: UInt32 = 1 << 23
    static let tableBytes = 32
    static let lanes = 4

    /// Frequencies (summing to `scale`, every present symbol at least 1) from a histogram.
    static func normalize(_ counts: [Int]) -> [UInt32] {
        let total = counts.reduce(0, +)
        var freq = [UInt32](repeating: 0, count: 256)
        guard total > 0 else { return freq }
        var sum: Int64 = 0
        for s in 0 ..< 256 where counts[s] > 0 {
            let f = max(1, (Int64(counts[s]) * Int64(scale) + Int64(total) / 2) / Int64(total))
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

    /// Per-symbol encoder constants. Reciprocals replace the division per symbol (Fabian
    /// Giesen's rans_byte trick); they change nothing in the stream, only the speed.
    struct EncSymbol {
        var rcp: UInt64 = 0
        var xMax: UInt32 = 0
        var bias: UInt32 = 0
        var cmpl: UInt32 = 0
        var shift: UInt32 = 0
    }

    /// Encodes `input`; returns the stream described above.
    static func encode(_ input: UnsafeRawBufferPointer, counts: [Int]) -> [UInt8] {
        let freq = normalize(counts)
        var syms = [EncSymbol](repeating: EncSymbol(), count: 256)
        var cum: UInt32 = 0
        for s in 0 ..< 256 where freq[s] > 0 {
            let f = freq[s]
            var e = EncSymbol(xMax: ((lowerBound >> scaleBits) << 8) &* f, cmpl: scale - f)
            if f < 2 {
                e.rcp = 0xFFFF_FFFF
                e.shift = 0
                e.bias = cum + scale - 1
            } else {
                var shift: UInt32 = 0
                while f > (UInt32(1) << shift) { shift += 1 }
                e.rcp = ((UInt64(1) << (UInt64(shift) + 31)) + UInt64(f) - 1) / UInt64(f)
                e.shift = shift - 1
                e.bias = cum
            }
            syms[s] = e
            cum += f
        }
        let n = input.count
        // Worst case: 14 bits per symbol.
        let capacity = n * 2 + 16
        let body = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        defer { body.deallocate() }
        var pos = capacity
        var x: (UInt32, UInt32, UInt32, UInt32) = (lowerBound, lowerBound, lowerBound, lowerBound)
        syms.withUnsafeBufferPointer { syms in
            let src = input.bindMemory(to: UInt8.self)
            @inline(__always) func put(_ x: inout UInt32, _ s: UInt8) {
                let e = syms[Int(s)]
                while x >= e.xMax {
                    pos -= 1
                    body[pos] = UInt8(truncatingIfNeeded: x)
                    x >>= 8
                }
                let q = UInt32(truncatingIfNeeded: (UInt64(x) &* e.rcp) >> 32) >> e.shift
                x = x &+ e.bias &+ q &* e.cmpl
            }
            var i = n
            // The tail first (the encoder runs backwards), then whole groups of four.
            while i % lanes != 0 {
                i -= 1
                switch i % lanes {
                case 0: put(&x.0, src[i])
                case 1: put(&x.1, src[i])
                case 2: put(&x.2, src[i])
                default: put(&x.3, src[i])
                }
            }
            while i > 0 {
                put(&x.3, src[i - 1])
                put(&x.2, src[i - 2])
                put(&x.1, src[i - 3])
                put(&x.0, src[i - 4])
                i -= 4
            }
        }
        var stream = [UInt8](repeating: 0, count: tableBytes)
        stream.reserveCapacity(tableBytes + 512 + 16 + capacity - pos)
        for s in 0 ..< 256 where freq[s] > 0 { stream[s >> 3] |= 1 << UInt8(s & 7) }
        for s in 0 ..< 256 where freq[s] > 0 {
            stream.append(UInt8(truncatingIfNeeded: freq[s]))
            stream.append(UInt8(truncatingIfNeeded: freq[s] >> 8))
        }
        for state in [x.0, x.1, x.2, x.3] {
            for k in 0 ..< 4 { stream.append(UInt8(truncatingIfNeeded: state >> (8 * UInt32(k)))) }
        }
        stream.append(contentsOf: UnsafeBufferPointer(start: body + pos, count: capacity - pos))
        return stream
    }

    /// Why a rANS stream could not be decoded.
    enum DecodeError: Error { case badTable, truncated, trailingBytes, badFinalState }

    /// Decodes `out.count` symbols of `stream` into `out`.
    static func decode(_ stream: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) throws(DecodeError) {
        let count = out.count
        guard stream.count >= tableBytes else { throw .badTable }
        var freq = [UInt32](repeating: 0, count: 256)
        var p = tableBytes
        var sum: UInt32 = 0
        for s in 0 ..< 256 where stream[s >> 3] & (1 << UInt8(s & 7)) != 0 {
            guard p + 2 <= stream.count else { throw .badTable }
            let f = UInt32(stream[p]) | UInt32(stream[p + 1]) << 8
            guard f > 0, f <= scale, sum + f <= scale else { throw .badTable }
            freq[s] = f
            sum += f
            p += 2
        }
        guard sum == scale else { throw .badTable }
        guard p + 16 <= stream.count else { throw .truncated }
        func state(_ at: Int) -> UInt32 {
            UInt32(stream[at]) | UInt32(stream[at + 1]) << 8 | UInt32(stream[at + 2]) << 16 | UInt32(stream[at + 3]) << 24
        }
        var x: (UInt32, UInt32, UInt32, UInt32) = (state(p), state(p + 4), state(p + 8), state(p + 12))
        p += 16
        // States outside [L, 256·L) would let one renormalization read without bound; inside
        // it, each step reads at most two bytes, whatever the data bytes are.
        for s in [x.0, x.1, x.2, x.3] where s < lowerBound || s >= lowerBound << 8 { throw .badFinalState }
        // One table entry per slot: symbol, frequency and the slot's offset in the symbol's
        // range, so a step is one load, one multiply-add.
        let table = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(scale))
        defer { table.deallocate() }
        var c: UInt32 = 0
        for s in 0 ..< 256 where freq[s] > 0 {
            for k in 0 ..< freq[s] { table[Int(c + k)] = UInt64(s) | UInt64(freq[s]) << 8 | UInt64(k) << 32 }
            c += freq[s]
        }
        let mask = scale - 1
        let end = stream.count
        guard let src = stream.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .truncated }
        let dst = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
        var overrun = false
        @inline(__always) func get(_ x: inout UInt32) -> UInt8 {
            let e = table[Int(x & mask)]
            x = UInt32(truncatingIfNeeded: (e >> 8) & 0x7FFF) &* (x >> scaleBits) &+ UInt32(truncatingIfNeeded: e >> 32)
            return UInt8(truncatingIfNeeded: e)
        }
        @inline(__always) func renormChecked(_ x: inout UInt32) {
            while x < lowerBound {
                guard p < end else { overrun = true; x = lowerBound; return }
                x = (x << 8) | UInt32(src[p])
                p += 1
            }
        }
        var i = 0
        // A group of four reads at most 2 bytes per state (14-bit frequencies), so with 8
        // bytes left the bounds check can wait for the group's end. Written out by hand:
        // the states stay in registers.
        var x0 = x.0, x1 = x.1, x2 = x.2, x3 = x.3
        var q = p
        @inline(__always) func renorm(_ x: inout UInt32, _ q: inout Int) {
            let c0 = x < lowerBound
            let y0 = (x << 8) | UInt32(src[q])
            x = c0 ? y0 : x
            q &+= c0 ? 1 : 0
            let c1 = x < lowerBound
            let y1 = (x << 8) | UInt32(src[q])
            x = c1 ? y1 : x
            q &+= c1 ? 1 : 0
        }
        if let dst {
            while i + 4 <= count && q + 8 <= end {
                let e0 = table[Int(x0 & mask)], e1 = table[Int(x1 & mask)], e2 = table[Int(x2 & mask)], e3 = table[Int(x3 & mask)]
                dst[i] = UInt8(truncatingIfNeeded: e0)
                dst[i + 1] = UInt8(truncatingIfNeeded: e1)
                dst[i + 2] = UInt8(truncatingIfNeeded: e2)
                dst[i + 3] = UInt8(truncatingIfNeeded: e3)
                x0 = UInt32(truncatingIfNeeded: (e0 >> 8) & 0x7FFF) &* (x0 >> scaleBits) &+ UInt32(truncatingIfNeeded: e0 >> 32)
                x1 = UInt32(truncatingIfNeeded: (e1 >> 8) & 0x7FFF) &* (x1 >> scaleBits) &+ UInt32(truncatingIfNeeded: e1 >> 32)
                x2 = UInt32(truncatingIfNeeded: (e2 >> 8) & 0x7FFF) &* (x2 >> scaleBits) &+ UInt32(truncatingIfNeeded: e2 >> 32)
                x3 = UInt32(truncatingIfNeeded: (e3 >> 8) & 0x7FFF) &* (x3 >> scaleBits) &+ UInt32(truncatingIfNeeded: e3 >> 32)
                // Branch-free renormalization: whether a state needs a byte is data, so a
                // branch would mispredict about every third symbol. A step leaves x ≥ 2^9,
                // so two conditional byte reads always restore x ≥ 2^23.
                renorm(&x0, &q); renorm(&x1, &q); renorm(&x2, &q); renorm(&x3, &q)
                i += 4
            }
        }
        x = (x0, x1, x2, x3)
        p = q
        while i < count && !overrun {
            switch i % lanes {
            case 0: dst![i] = get(&x.0); renormChecked(&x.0)
            case 1: dst![i] = get(&x.1); renormChecked(&x.1)
            case 2: dst![i] = get(&x.2); renormChecked(&x.2)
            default: dst![i] = get(&x.3); renormChecked(&x.3)
            }
            i += 1
        }
        if overrun { throw .truncated }
        guard p == end else { throw .trailingBytes }
        guard x.0 == lowerBound, x.1 == lowerBound, x.2 == lowerBound, x.3 == lowerBound else { throw .badFinalState }
    }
}
