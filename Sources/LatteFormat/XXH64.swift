/// xxHash64 (Yann Collet's XXH64, seed 0 unless given), streaming.
///
/// Chosen over CRC32C for the per-tensor and manifest checksums because it runs at memory
/// speed in portable code (no SSE4.2 intrinsics needed from Swift) and its 64 bits make an
/// accidental match after corruption vanishingly unlikely even over millions of chunks.
public struct XXH64: Sendable {
    static let p1: UInt64 = 11_400_714_785_074_694_791
    static let p2: UInt64 = 14_029_467_366_897_019_727
    static let p3: UInt64 = 1_609_587_929_392_839_161
    static let p4: UInt64 = 9_650_029_242_287_828_579
    static let p5: UInt64 = 2_870_177_450_012_600_261

    private var v1: UInt64, v2: UInt64, v3: UInt64, v4: UInt64
    private let seed: UInt64
    private var total: UInt64 = 0
    /// Bytes not yet forming a whole 32-byte stripe.
    private var pending: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
    private var pendingCount = 0

    public init(seed: UInt64 = 0) {
        self.seed = seed
        v1 = seed &+ XXH64.p1 &+ XXH64.p2
        v2 = seed &+ XXH64.p2
        v3 = seed
        v4 = seed &- XXH64.p1
    }

    /// The hash of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var h = XXH64(seed: seed)
        h.update(bytes)
        return h.finalize()
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* p2, 31) &* p1
    }

    @inline(__always) static func merge(_ acc: UInt64, _ val: UInt64) -> UInt64 {
        (acc ^ round(0, val)) &* p1 &+ p4
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        total &+= UInt64(bytes.count)
        var p = 0
        let n = bytes.count
        // Complete a stripe left over from the previous call.
        if pendingCount > 0 {
            withUnsafeMutableBytes(of: &pending) { buf in
                let take = min(32 - pendingCount, n)
                buf.baseAddress!.advanced(by: pendingCount).copyMemory(from: base, byteCount: take)
                pendingCount += take
                p = take
            }
            if pendingCount < 32 { return }
            let s = pending
            v1 = XXH64.round(v1, UInt64(littleEndian: s.0))
            v2 = XXH64.round(v2, UInt64(littleEndian: s.1))
            v3 = XXH64.round(v3, UInt64(littleEndian: s.2))
            v4 = XXH64.round(v4, UInt64(littleEndian: s.3))
            pendingCount = 0
        }
        var a = v1, b = v2, c = v3, d = v4
        while p + 32 <= n {
            a = XXH64.round(a, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
            b = XXH64.round(b, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 8, as: UInt64.self)))
            c = XXH64.round(c, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 16, as: UInt64.self)))
            d = XXH64.round(d, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: p + 24, as: UInt64.self)))
            p += 32
        }
        v1 = a; v2 = b; v3 = c; v4 = d
        if p < n {
            let rest = n - p
            withUnsafeMutableBytes(of: &pending) { buf in
                buf.baseAddress!.copyMemory(from: base.advanced(by: p), byteCount: rest)
            }
            pendingCount = rest
        }
    }

    public mutating func update(_ bytes: [UInt8]) { bytes.withUnsafeBytes { update($0) } }

    /// The hash of everything fed so far (the state stays usable).
    public func finalize() -> UInt64 {
        var h: UInt64
        if total >= 32 {
            h = XXH64.rotl(v1, 1) &+ XXH64.rotl(v2, 7) &+ XXH64.rotl(v3, 12) &+ XXH64.rotl(v4, 18)
            h = XXH64.merge(h, v1)
            h = XXH64.merge(h, v2)
            h = XXH64.merge(h, v3)
            h = XXH64.merge(h, v4)
        } else {
            h = seed &+ XXH64.p5
        }
        h &+= total
        var tail = pending
        let count = pendingCount
        withUnsafeBytes(of: &tail) { buf in
            var p = 0
            while p + 8 <= count {
                let k = XXH64.round(0, UInt64(littleEndian: buf.loadUnaligned(fromByteOffset: p, as: UInt64.self)))
                h = XXH64.rotl(h ^ k, 27) &* XXH64.p1 &+ XXH64.p4
                p += 8
            }
            if p + 4 <= count {
                let k = UInt64(UInt32(littleEndian: buf.loadUnaligned(fromByteOffset: p, as: UInt32.self)))
                h = XXH64.rotl(h ^ (k &* XXH64.p1), 23) &* XXH64.p2 &+ XXH64.p3
                p += 4
            }
            while p < count {
                h = XXH64.rotl(h ^ (UInt64(buf[p]) &* XXH64.p5), 11) &* XXH64.p1
                p += 1
            }
        }
        h ^= h >> 33
        h &*= XXH64.p2
        h ^= h >> 29
        h &*= XXH64.p3
        h ^= h >> 32
        return h
    }
}

/// Sixteen lowercase hex digits, as the manifest writes checksums.
func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

/// Parses sixteen hex digits back; nil for anything else.
func parseHex64(_ s: String) -> UInt64? {
    guard s.utf8.count == 16, s.utf8.allSatisfy({ (0x30 ... 0x39).contains($0) || (0x61 ... 0x66).contains($0) }) else { return nil }
    return UInt64(s, radix: 16)
}
