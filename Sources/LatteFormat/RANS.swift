/// An order-0 rANS entropy coder for one byte plane (the `rans` plane codec of FORMAT.md).
///
/// Why not zstd here: the exponent plane of trained weights has no long matches, only a
/// skewed symbol distribution. zstd spends bits on sequences and codes literals with
/// Huffman (whole-bit code lengths); rANS with a 12-bit probability table gets within a
/// fraction of a percent of the plane's order-0 entropy, which is what the size targets need.
///
/// Stream: a 32-byte bitmap of the symbols present (bit `s & 7` of byte `s >> 3`), then one
/// UInt16 LE frequency per present symbol in ascending symbol order (they sum to 2^12), then
/// four coder states as UInt32 LE, then the lengths of byte streams 0, 1, 2 as UInt32 LE,
/// then byte streams 0, 1, 2, 3 (stream 3 takes the rest), each in the order its decoder
/// reads it. Symbol `i` is coded by lane `i % 4` (state and byte stream `i % 4`): four
/// independent dependency chains run in parallel on one core. Every state must end at 2^23
/// with every byte of its stream read.
enum RANS {
    /// 12-bit probabilities: the decode table (4096 four-byte entries) stays in L1, which
    /// measured faster than 14 bits for +0.01 % of file size.
    static let scaleBits: UInt32 = 12
    static let scale: UInt32 = 1 << 12
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
        // Worst case: 12 bits per symbol (a frequency of 1), per lane, plus slack.
        let laneCapacity = (n / lanes + 1) * 2 + 8
        let body = UnsafeMutablePointer<UInt8>.allocate(capacity: laneCapacity * lanes)
        defer { body.deallocate() }
        // Each lane writes its bytes backwards from the end of its own region.
        var lanesState = EncLanes(x0: lowerBound, x1: lowerBound, x2: lowerBound, x3: lowerBound,
                                  p0: laneCapacity, p1: 2 * laneCapacity, p2: 3 * laneCapacity, p3: 4 * laneCapacity)
        syms.withUnsafeBufferPointer { syms in
            encodeLoop(syms: syms.baseAddress!, src: input.bindMemory(to: UInt8.self).baseAddress, body: body, n: n, s: &lanesState)
        }
        let x = (lanesState.x0, lanesState.x1, lanesState.x2, lanesState.x3)
        let pos = [lanesState.p0, lanesState.p1, lanesState.p2, lanesState.p3]
        let lengths = (0 ..< lanes).map { ($0 + 1) * laneCapacity - pos[$0] }
        var stream = [UInt8](repeating: 0, count: tableBytes)
        stream.reserveCapacity(tableBytes + 512 + 28 + lengths.reduce(0, +))
        for s in 0 ..< 256 where freq[s] > 0 { stream[s >> 3] |= 1 << UInt8(s & 7) }
        for s in 0 ..< 256 where freq[s] > 0 {
            stream.append(UInt8(truncatingIfNeeded: freq[s]))
            stream.append(UInt8(truncatingIfNeeded: freq[s] >> 8))
        }
        for word in [x.0, x.1, x.2, x.3] + lengths.prefix(3).map({ UInt32($0) }) {
            for k in 0 ..< 4 { stream.append(UInt8(truncatingIfNeeded: word >> (8 * UInt32(k)))) }
        }
        for lane in 0 ..< lanes {
            stream.append(contentsOf: UnsafeBufferPointer(start: body + pos[lane], count: lengths[lane]))
        }
        return stream
    }

    /// The encoder's four lanes: states and write positions.
    struct EncLanes { var x0, x1, x2, x3: UInt32; var p0, p1, p2, p3: Int }

    /// The encoder's hot loop, over the symbols backwards. Renormalization is branch-free
    /// (a state in [2^23, 2^31) emits at most two bytes): the byte is always stored below the
    /// lane's written bytes and kept only when the position moves.
    private static func encodeLoop(syms: UnsafePointer<EncSymbol>, src: UnsafePointer<UInt8>?, body: UnsafeMutablePointer<UInt8>, n: Int, s: inout EncLanes) {
        guard let src else { return }
        var x0 = s.x0, x1 = s.x1, x2 = s.x2, x3 = s.x3
        var p0 = s.p0, p1 = s.p1, p2 = s.p2, p3 = s.p3
        @inline(__always) func put(_ x: inout UInt32, _ p: inout Int, _ symbol: UInt8) {
            let e = syms[Int(symbol)]
            let c0 = x >= e.xMax
            body[p &- 1] = UInt8(truncatingIfNeeded: x)
            p &-= c0 ? 1 : 0
            x = c0 ? x &>> 8 : x
            let c1 = x >= e.xMax
            body[p &- 1] = UInt8(truncatingIfNeeded: x)
            p &-= c1 ? 1 : 0
            x = c1 ? x &>> 8 : x
            let q = UInt32(truncatingIfNeeded: (UInt64(x) &* e.rcp) &>> 32) &>> e.shift
            x = x &+ e.bias &+ q &* e.cmpl
        }
        var i = n
        // The tail first (the encoder runs backwards), then whole groups of four.
        while i % lanes != 0 {
            i -= 1
            switch i % lanes {
            case 0: put(&x0, &p0, src[i])
            case 1: put(&x1, &p1, src[i])
            case 2: put(&x2, &p2, src[i])
            default: put(&x3, &p3, src[i])
            }
        }
        while i > 0 {
            put(&x3, &p3, src[i &- 1])
            put(&x2, &p2, src[i &- 2])
            put(&x1, &p1, src[i &- 3])
            put(&x0, &p0, src[i &- 4])
            i &-= 4
        }
        s = EncLanes(x0: x0, x1: x1, x2: x2, x3: x3, p0: p0, p1: p1, p2: p2, p3: p3)
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
        guard p + 28 <= stream.count else { throw .truncated }
        func word(_ at: Int) -> UInt32 {
            UInt32(stream[at]) | UInt32(stream[at + 1]) << 8 | UInt32(stream[at + 2]) << 16 | UInt32(stream[at + 3]) << 24
        }
        var x0 = word(p), x1 = word(p + 4), x2 = word(p + 8), x3 = word(p + 12)
        // States outside [L, 256·L) would let one renormalization read without bound; inside
        // it, each step reads at most two bytes, whatever the data bytes are.
        for s in [x0, x1, x2, x3] where s < lowerBound || s >= lowerBound << 8 { throw .badFinalState }
        // Byte stream bounds: [start, end) per lane, all inside the stream.
        var starts = [Int](repeating: 0, count: lanes), ends = [Int](repeating: 0, count: lanes)
        var at = p + 28
        for lane in 0 ..< lanes {
            let len = lane < lanes - 1 ? Int(word(p + 16 + 4 * lane)) : stream.count - at
            guard len >= 0, len <= stream.count - at else { throw .truncated }
            starts[lane] = at
            ends[lane] = at + len
            at += len
        }
        // One table entry per slot: symbol (8 bits), frequency − 1 (12 bits) and the slot's
        // offset in the symbol's range (12 bits), so a step is one load, one multiply-add.
        let table = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(scale))
        defer { table.deallocate() }
        var c: UInt32 = 0
        for s in 0 ..< 256 where freq[s] > 0 {
            for k in 0 ..< freq[s] { table[Int(c + k)] = UInt32(s) | (freq[s] - 1) << 8 | k << 20 }
            c += freq[s]
        }
        guard let src = stream.baseAddress?.assumingMemoryBound(to: UInt8.self) else { throw .truncated }
        guard count > 0 else {
            guard starts == ends, [x0, x1, x2, x3].allSatisfy({ $0 == lowerBound }) else { throw .trailingBytes }
            return
        }
        let dst = out.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let e0 = ends[0], e1 = ends[1], e2 = ends[2], e3 = ends[3]
        var lanesState = LaneState(x0: x0, x1: x1, x2: x2, x3: x3, q0: starts[0], q1: starts[1], q2: starts[2], q3: starts[3])
        let done = fastLoop(table: table, src: src, dst: dst, count: count, s: &lanesState, ends: (e0, e1, e2, e3))
        (x0, x1, x2, x3) = (lanesState.x0, lanesState.x1, lanesState.x2, lanesState.x3)
        var (q0, q1, q2, q3) = (lanesState.q0, lanesState.q1, lanesState.q2, lanesState.q3)
        // The rest, with every byte read bounds-checked.
        var i = done
        while i < count {
            let lane = i % lanes
            var x: UInt32, q: Int, e: Int
            switch lane {
            case 0: (x, q, e) = (x0, q0, e0)
            case 1: (x, q, e) = (x1, q1, e1)
            case 2: (x, q, e) = (x2, q2, e2)
            default: (x, q, e) = (x3, q3, e3)
            }
            let entry = table[Int(x & (scale - 1))]
            dst[i] = UInt8(truncatingIfNeeded: entry)
            x = (((entry >> 8) & 0xFFF) &+ 1) &* (x >> scaleBits) &+ (entry >> 20)
            while x < lowerBound {
                guard q < e else { throw .truncated }
                x = (x << 8) | UInt32(src[q])
                q += 1
            }
            switch lane {
            case 0: (x0, q0) = (x, q)
            case 1: (x1, q1) = (x, q)
            case 2: (x2, q2) = (x, q)
            default: (x3, q3) = (x, q)
            }
            i += 1
        }
        guard q0 == e0, q1 == e1, q2 == e2, q3 == e3 else { throw .trailingBytes }
        guard x0 == lowerBound, x1 == lowerBound, x2 == lowerBound, x3 == lowerBound else { throw .badFinalState }
    }

    /// The four lanes' states and byte-stream positions.
    struct LaneState { var x0, x1, x2, x3: UInt32; var q0, q1, q2, q3: Int }

    /// The hot loop: whole groups of four symbols while every lane has 2 bytes left (a step
    /// reads at most two bytes), so no read needs its own bounds check. Returns the symbols done.
    /// Renormalization is branch-free: whether a state needs a byte is data, so a branch
    /// would mispredict about every third symbol; a step leaves x ≥ 2^11, so two conditional
    /// byte reads always restore x ≥ 2^23.
    @inline(__always)
    private static func fastLoop(table: UnsafePointer<UInt32>, src: UnsafePointer<UInt8>, dst: UnsafeMutablePointer<UInt8>, count: Int,
                                 s: inout LaneState, ends: (Int, Int, Int, Int)) -> Int {
        var x0 = s.x0, x1 = s.x1, x2 = s.x2, x3 = s.x3
        var q0 = s.q0, q1 = s.q1, q2 = s.q2, q3 = s.q3
        let mask = scale - 1
        var i = 0
        @inline(__always) func step(_ x: inout UInt32, _ q: inout Int, _ out: UnsafeMutablePointer<UInt8>) {
            let e = table[Int(x & mask)]
            out.pointee = UInt8(truncatingIfNeeded: e)
            x = (((e &>> 8) & 0xFFF) &+ 1) &* (x &>> scaleBits) &+ (e &>> 20)
            // Both candidate bytes are loaded up front (they depend only on q), which keeps
            // the loads off the state's dependency chain.
            let b0 = UInt32(src[q]), b1 = UInt32(src[q &+ 1])
            let c0 = x < lowerBound
            let a = c0 ? (x &<< 8) | b0 : x
            let c1 = a < lowerBound
            x = c1 ? (a &<< 8) | (c0 ? b1 : b0) : a
            q &+= (c0 ? 1 : 0) &+ (c1 ? 1 : 0)
        }
        // Groups that are safe whatever the data: each reads at most two bytes per lane.
        // Counting them ahead keeps the inner loop free of bounds checks (and the stream
        // ends out of the registers the states need).
        while true {
            let safe = min((count &- i) / 4, (ends.0 &- q0) / 2, (ends.1 &- q1) / 2, (ends.2 &- q2) / 2, (ends.3 &- q3) / 2)
            if safe <= 0 { break }
            var out = dst + i
            for _ in 0 ..< safe {
                step(&x0, &q0, out)
                step(&x1, &q1, out + 1)
                step(&x2, &q2, out + 2)
                step(&x3, &q3, out + 3)
                out += 4
            }
            i &+= safe &* 4
        }
        s = LaneState(x0: x0, x1: x1, x2: x2, x3: x3, q0: q0, q1: q1, q2: q2, q3: q3)
        return i
    }
}
