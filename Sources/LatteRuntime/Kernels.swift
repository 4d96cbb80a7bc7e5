import COpenBLAS
import CLatteKernels
import LatteSystem

/// A fixed-size float32 buffer, 64-byte aligned, owned by this object.
///
/// Large buffers (weights, big scratch) are anonymous mappings aligned to 2 MiB and marked
/// for transparent huge pages: far fewer page faults when a group's weights are first
/// written, and fewer TLB misses when sgemm streams through them.
///
/// Not Sendable: anyone holding it writes through `p`. A model's buffers belong to the one
/// run using them (the kernels' threads are OpenBLAS's, inside each call).
final class FloatBuffer {
    let count: Int
    let p: UnsafeMutablePointer<Float>
    private let mapping: (base: UnsafeMutableRawPointer, length: Int)?
    /// Where this buffer's bytes were reserved, given back when it is freed.
    private let ledger: MemoryLedger?
    private let reserved: Int

    static let hugePage = 2 << 20
    static let mapThreshold = 4 << 20

    /// A zero-filled buffer.
    convenience init(_ count: Int) {
        self.init(uninitialized: count)
        if mapping == nil { p.update(repeating: 0, count: max(count, 1)) }
    }

    /// A buffer of `count` floats (nil: a size that overflowed) reserved in `ledger` before it
    /// is allocated: past the budget this throws, naming `what`, and nothing is allocated.
    /// Zero-filled unless `zeroed` is false (weights: decoding overwrites every element).
    convenience init(_ count: Int?, zeroed: Bool = true, in ledger: MemoryLedger,
                     for what: @autoclosure () -> String) throws(RuntimeError) {
        let bytes = Checked.floats(count.map { max($0, 1) })
        try ledger.reserve(bytes, for: what())
        self.init(uninitialized: count!, ledger: ledger, reserved: bytes!)
        if zeroed && mapping == nil { p.update(repeating: 0, count: max(self.count, 1)) }
    }

    /// A buffer the caller fills completely before reading (weights: no zeroing pass over
    /// memory that decoding overwrites anyway; mapped buffers are zero regardless).
    init(uninitialized count: Int, ledger: MemoryLedger? = nil, reserved: Int = 0) {
        self.count = count
        self.ledger = ledger
        self.reserved = reserved
        let bytes = max(count, 1) * 4
        if bytes >= Self.mapThreshold {
            let length = bytes + Self.hugePage
            let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            if let m, m != MAP_FAILED {
                let aligned = (Int(bitPattern: m) + Self.hugePage - 1) / Self.hugePage * Self.hugePage
                let start = UnsafeMutableRawPointer(bitPattern: aligned)!
                advise(UnsafeRawBufferPointer(start: start, count: bytes), .hugePages)
                mapping = (m, length)
                p = start.bindMemory(to: Float.self, capacity: count)
                return
            }
        }
        mapping = nil
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        p = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit {
        if let mapping { munmap(mapping.base, mapping.length) } else { p.deallocate() }
        ledger?.release(reserved)
    }

    var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: p, count: count) }
    var array: [Float] { Array(UnsafeBufferPointer(start: p, count: count)) }
}

/// The numeric building blocks, all float32, on raw row-major pointers.
enum Kernels {
    /// y[M, N] (row stride ldy) = x[M, K] (row stride ldx) · W^T with W stored [N, K] (row
    /// stride ldw), plus beta · y. One cblas_sgemm.
    @inline(__always)
    static func gemmNT(_ m: Int, _ n: Int, _ k: Int, alpha: Float = 1,
                       _ x: UnsafePointer<Float>, _ ldx: Int, _ w: UnsafePointer<Float>, _ ldw: Int,
                       beta: Float = 0, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(n), Int32(k),
                    alpha, x, Int32(ldx), w, Int32(ldw), beta, y, Int32(ldy))
    }

    /// y[M, N] = a[M, K] · b[K, N] (both row-major, with row strides), plus beta · y.
    @inline(__always)
    static func gemmNN(_ m: Int, _ n: Int, _ k: Int, alpha: Float = 1,
                       _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                       beta: Float = 0, _ y: UnsafeMutablePointer<Float>, _ ldy: Int) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(n), Int32(k),
                    alpha, a, Int32(lda), b, Int32(ldb), beta, y, Int32(ldy))
    }

    /// Linear(x) = x W^T + b for `rows` rows: W [out, in], bias [out] or nil.
    static func linear(_ x: UnsafePointer<Float>, rows: Int, inFeatures: Int,
                       _ w: UnsafePointer<Float>, bias: UnsafePointer<Float>?, outFeatures: Int,
                       _ y: UnsafeMutablePointer<Float>) {
        gemmNT(rows, outFeatures, inFeatures, x, inFeatures, w, inFeatures, y, outFeatures)
        if let bias { addRowVector(y, rows: rows, cols: outFeatures, bias) }
    }

    /// y[r, j] += v[j].
    @inline(__always)
    static func addRowVector(_ y: UnsafeMutablePointer<Float>, rows: Int, cols: Int, _ v: UnsafePointer<Float>) {
        for r in 0 ..< rows {
            let row = y + r * cols
            for j in 0 ..< cols { row[j] += v[j] }
        }
    }

    /// 1 / sqrt(mean(x^2) + eps) of one row of `n` values, the mean taken in float32 as
    /// PyTorch does (sum in double then rounded: within an ulp of a float32 reduction).
    @inline(__always)
    static func rmsScale(_ x: UnsafePointer<Float>, _ n: Int, eps: Float) -> Float {
        var s0: Double = 0, s1: Double = 0
        var j = 0
        while j + 1 < n {
            let a = x[j], b = x[j + 1]
            s0 += Double(a * a)
            s1 += Double(b * b)
            j += 2
        }
        if j < n { s0 += Double(x[j] * x[j]) }
        let mean = Float((s0 + s1) / Double(n))
        return 1 / (mean + eps).squareRoot()
    }

    /// out = RMSNorm(x; w) = (x * r) * w per row (out may equal x).
    static func rmsNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, _ w: UnsafePointer<Float>, eps: Float,
                        _ out: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows {
            let xr = x + r * dim, o = out + r * dim
            let s = rmsScale(xr, dim, eps: eps)
            for j in 0 ..< dim { o[j] = (xr[j] * s) * w[j] }
        }
    }

    /// out = RMSNorm(x; w) * (1 + scale) + shift per row (the modulated norms).
    static func rmsNormModulated(_ x: UnsafePointer<Float>, rows: Int, dim: Int, _ w: UnsafePointer<Float>, eps: Float,
                                 onePlusScale: UnsafePointer<Float>, shift: UnsafePointer<Float>,
                                 _ out: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows {
            let xr = x + r * dim, o = out + r * dim
            let s = rmsScale(xr, dim, eps: eps)
            for j in 0 ..< dim { o[j] = ((xr[j] * s) * w[j]) * onePlusScale[j] + shift[j] }
        }
    }

    /// x += gate * RMSNorm(y; w) per row (the gated residuals of the replica block).
    static func addGatedRMSNorm(_ x: UnsafeMutablePointer<Float>, rows: Int, dim: Int, gate: UnsafePointer<Float>,
                                _ y: UnsafePointer<Float>, _ w: UnsafePointer<Float>, eps: Float) {
        for r in 0 ..< rows {
            let xr = x + r * dim, yr = y + r * dim
            let s = rmsScale(yr, dim, eps: eps)
            for j in 0 ..< dim { xr[j] += gate[j] * ((yr[j] * s) * w[j]) }
        }
    }

    /// RoPE, HF rotate_half form, in place on `heads` heads of each row of x:
    /// x' = x * cos + rotate_half(x) * sin, row r at position firstPosition + r.
    static func rope(_ x: UnsafeMutablePointer<Float>, rows: Int, rowStride: Int, heads: Int, headDim: Int,
                     table: RopeTable, firstPosition: Int) {
        let half = headDim / 2
        for r in 0 ..< rows {
            let c = table.cos.p + (firstPosition + r) * half, s = table.sin.p + (firstPosition + r) * half
            for h in 0 ..< heads {
                let v = x + r * rowStride + h * headDim
                for j in 0 ..< half {
                    let x1 = v[j], x2 = v[j + half]
                    v[j] = x1 * c[j] + (-x2) * s[j]
                    v[j + half] = x2 * c[j] + x1 * s[j]
                }
            }
        }
    }

    /// out[r, j] = SiLU(gu[r, j]) * gu[r, n + j]: the SwiGLU of a fused gate|up product.
    @inline(__always)
    static func siluMul(_ gu: UnsafePointer<Float>, rows: Int, n: Int, _ out: UnsafeMutablePointer<Float>) {
        lk_silu_mul(gu, Int64(2 * n), out, Int64(n), Int64(rows), Int64(n))
    }

    /// Row softmax in place; `causalFirst` >= 0 masks columns after causalFirst + row.
    @inline(__always)
    static func softmaxRows(_ s: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int, causalFirst: Int = -1) {
        lk_softmax_rows(s, Int64(rows), Int64(cols), Int64(ld), Int64(causalFirst))
    }

    @inline(__always)
    static func silu(_ x: Float) -> Float { x * (1 / (1 + expf(-x))) }

    @inline(__always)
    static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
}

/// cos and sin of RoPE angles, [positions, headDim/2] each (the second half of HF's
/// `cat(freqs, freqs)` table repeats the first): angle = position * theta^(-2j/hd), float32.
final class RopeTable {
    let positions: Int
    let half: Int
    let cos: FloatBuffer
    let sin: FloatBuffer

    init(positions: Int, headDim: Int, theta: Double, ledger: MemoryLedger) throws(RuntimeError) {
        self.positions = positions
        half = headDim / 2
        cos = try FloatBuffer(Checked.product(positions, half), in: ledger, for: "the RoPE table of \(positions) positions")
        sin = try FloatBuffer(Checked.product(positions, half), in: ledger, for: "the RoPE table of \(positions) positions")
        let th = Float(theta)
        var inv = [Float](repeating: 0, count: half)
        for j in 0 ..< half { inv[j] = 1 / powf(th, Float(2 * j) / Float(headDim)) }
        for p in 0 ..< positions {
            for j in 0 ..< half {
                let a = Float(p) * inv[j]
                cos.p[p * half + j] = cosf(a)
                sin.p[p * half + j] = sinf(a)
            }
        }
    }
}
