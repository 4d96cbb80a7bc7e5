import LatteSystem

/// The byte-plane transform of the `planes` codec: element `i`'s byte `k` goes to plane `k`,
/// position `i`. Bytes of one significance (the exponent, the low mantissa) then sit
/// together, and each plane gets the entropy coder that suits it.
///
/// For 2- and 4-byte elements the word is first rotated left by one bit, moving the sign bit
/// to the bottom: BF16's eight exponent bits (F32's too) then fill the top byte exactly, and
/// the sign, nearly random, joins the nearly random low mantissa bits.
enum BytePlanes {
    /// Whether a word of `width` bytes is rotated before splitting.
    static func rotates(width: Int) -> Bool { width == 2 || width == 4 }

    /// Splits `src` (a whole number of `width`-byte LE elements) into `width` planes laid end
    /// to end in `dst` (same size).
    static func split(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        guard n > 0, let s = src.baseAddress, let d = dst.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        switch width {
        case 2:
            if Int(bitPattern: s) % 2 == 0 {
                // Aligned UInt16 loads in a plain loop, which LLVM vectorizes.
                let words = s.assumingMemoryBound(to: UInt16.self)
                for i in 0 ..< n {
                    var v = UInt16(littleEndian: words[i])
                    v = (v &<< 1) | (v &>> 15)
                    d[i] = UInt8(truncatingIfNeeded: v)
                    d[n &+ i] = UInt8(truncatingIfNeeded: v &>> 8)
                }
            } else {
                for i in 0 ..< n {
                    var v = UInt16(littleEndian: s.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
                    v = (v << 1) | (v >> 15)
                    d[i] = UInt8(truncatingIfNeeded: v)
                    d[n + i] = UInt8(truncatingIfNeeded: v >> 8)
                }
            }
        case 4 where Int(bitPattern: s) % 4 == 0:
            let words = s.assumingMemoryBound(to: UInt32.self)
            for i in 0 ..< n {
                var v = UInt32(littleEndian: words[i])
                v = (v &<< 1) | (v &>> 31)
                d[i] = UInt8(truncatingIfNeeded: v)
                d[n &+ i] = UInt8(truncatingIfNeeded: v &>> 8)
                d[2 &* n &+ i] = UInt8(truncatingIfNeeded: v &>> 16)
                d[3 &* n &+ i] = UInt8(truncatingIfNeeded: v &>> 24)
            }
        case 4:
            for i in 0 ..< n {
                var v = UInt32(littleEndian: s.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
                v = (v << 1) | (v >> 31)
                d[i] = UInt8(truncatingIfNeeded: v)
                d[n + i] = UInt8(truncatingIfNeeded: v >> 8)
                d[2 * n + i] = UInt8(truncatingIfNeeded: v >> 16)
                d[3 * n + i] = UInt8(truncatingIfNeeded: v >> 24)
            }
        default:
            let b = s.assumingMemoryBound(to: UInt8.self)
            for i in 0 ..< n { for k in 0 ..< width { d[k * n + i] = b[i * width + k] } }
        }
    }

    /// The inverse of `split`.
    static func merge(_ src: UnsafeRawBufferPointer, width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        guard n > 0, let s = src.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return }
        merge(planes: (0 ..< width).map { UnsafePointer(s + $0 * n) }, count: n, into: dst)
    }

    /// The inverse of `split`, with each plane wherever it is (a raw plane straight from the
    /// file, a decoded one in scratch memory): `count` elements of `planes.count` bytes.
    static func merge(planes: [UnsafePointer<UInt8>], count n: Int, into dst: UnsafeMutableRawBufferPointer) {
        let width = planes.count
        guard n > 0, let d = dst.baseAddress else { return }
        switch width {
        case 2:
            let p0 = planes[0], p1 = planes[1]
            // A plain loop over aligned UInt16 stores, which LLVM vectorizes: this runs over
            // every byte of a BF16 checkpoint on export.
            if Int(bitPattern: d) % 2 == 0 {
                let out = d.assumingMemoryBound(to: UInt16.self)
                for i in 0 ..< n {
                    let v = UInt16(p0[i]) | UInt16(p1[i]) &<< 8
                    out[i] = ((v &>> 1) | (v &<< 15)).littleEndian
                }
            } else {
                for i in 0 ..< n {
                    var v = UInt16(p0[i]) | UInt16(p1[i]) << 8
                    v = (v >> 1) | (v << 15)
                    d.storeBytes(of: v.littleEndian, toByteOffset: i * 2, as: UInt16.self)
                }
            }
        case 4:
            let p0 = planes[0], p1 = planes[1], p2 = planes[2], p3 = planes[3]
            if Int(bitPattern: d) % 4 == 0 {
                let out = d.assumingMemoryBound(to: UInt32.self)
                for i in 0 ..< n {
                    let v = UInt32(p0[i]) | UInt32(p1[i]) &<< 8 | UInt32(p2[i]) &<< 16 | UInt32(p3[i]) &<< 24
                    out[i] = ((v &>> 1) | (v &<< 31)).littleEndian
                }
            } else {
                for i in 0 ..< n {
                    var v = UInt32(p0[i]) | UInt32(p1[i]) << 8 | UInt32(p2[i]) << 16 | UInt32(p3[i]) << 24
                    v = (v >> 1) | (v << 31)
                    d.storeBytes(of: v.littleEndian, toByteOffset: i * 4, as: UInt32.self)
                }
            }
        default:
            let b = d.assumingMemoryBound(to: UInt8.self)
            for k in 0 ..< width {
                let p = planes[k]
                for i in 0 ..< n { b[i * width + k] = p[i] }
            }
        }
    }
}

/// Byte histograms and the order-0 entropy estimate that picks a plane's codec without a
/// trial compression.
enum ByteStats {
    static func histogram(_ bytes: UnsafeRawBufferPointer) -> [Int] {
        // Four interleaved tables avoid the store-to-load stall on runs of one value.
        var h = [Int](repeating: 0, count: 1024)
        h.withUnsafeMutableBufferPointer { h in
            let b = bytes.bindMemory(to: UInt8.self)
            let n = b.count
            var i = 0
            while i + 4 <= n {
                h[Int(b[i])] &+= 1
                h[256 + Int(b[i + 1])] &+= 1
                h[512 + Int(b[i + 2])] &+= 1
                h[768 + Int(b[i + 3])] &+= 1
                i += 4
            }
            while i < n { h[Int(b[i])] &+= 1; i += 1 }
        }
        return (0 ..< 256).map { h[$0] + h[256 + $0] + h[512 + $0] + h[768 + $0] }
    }

    /// Bytes an ideal order-0 coder needs for data with these counts.
    static func entropyBytes(_ counts: [Int]) -> Double {
        let total = Double(counts.reduce(0, +))
        guard total > 0 else { return 0 }
        var bits = 0.0
        for c in counts where c > 0 {
            let p = Double(c) / total
            bits -= Double(c) * log2(p)
        }
        return bits / 8
    }

    private static func log2(_ x: Double) -> Double {
        // Natural log by the series would be slow; Glibc's is fine.
        Glibc.log2(x)
    }
}
