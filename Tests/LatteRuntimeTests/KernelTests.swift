import Testing
import CLatteKernels
@testable import LatteRuntime

/// The numeric pieces against hand-computed values.
@Suite struct KernelTests {
    func close(_ a: [Float], _ b: [Double], _ tol: Double = 1e-6) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= tol * max(1, abs($1)) }
    }

    @Test func rmsNorm() {
        // mean([3, 4]^2) = 12.5; 1/sqrt(12.5 + 1e-6) * [3, 4] * [1, 2].
        var out = [Float](repeating: 0, count: 4)
        let x: [Float] = [3, 4, 0, 0], w: [Float] = [1, 2]
        Kernels.rmsNorm(x, rows: 2, dim: 2, w, eps: 1e-6, &out)
        #expect(close(Array(out[0 ..< 2]), [0.8485281034827337, 2.2627416092872896]))
        #expect(out[2] == 0 && out[3] == 0)
    }

    @Test func modulatedNormAndGatedResidual() {
        var out = [Float](repeating: 0, count: 2)
        Kernels.rmsNormModulated([3, 4], rows: 1, dim: 2, [1, 2], eps: 1e-6, onePlusScale: [2, 0.5], shift: [1, -1], &out)
        #expect(close(out, [0.8485281034827337 * 2 + 1, 2.2627416092872896 * 0.5 - 1]))
        var x: [Float] = [10, 20]
        Kernels.addGatedRMSNorm(&x, rows: 1, dim: 2, gate: [0.5, -1], [3, 4], [1, 2], eps: 1e-6)
        #expect(close(x, [10 + 0.5 * 0.8485281034827337, 20 - 2.2627416092872896]))
    }

    @Test func ropeRotateHalf() throws {
        // hd = 4, theta = 10000: inv_freq = [1, 0.01]. Position 1, x = [1, 2, 3, 4]:
        // [1 cos1 - 3 sin1, 2 cos.01 - 4 sin.01, 3 cos1 + 1 sin1, 4 cos.01 + 2 sin.01].
        let table = try RopeTable(positions: 3, headDim: 4, theta: 10000, ledger: MemoryLedger(budget: .max))
        var x: [Float] = [1, 2, 3, 4, 1, 2, 3, 4]
        x.withUnsafeMutableBufferPointer { p in
            Kernels.rope(p.baseAddress!, rows: 2, rowStride: 4, heads: 1, headDim: 4, table: table, firstPosition: 0)
        }
        #expect(Array(x[0 ..< 4]) == [1, 2, 3, 4], "position 0 is the identity")
        #expect(close(Array(x[4 ..< 8]), [-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994]))
    }

    @Test func ropeHeadsAndStride() throws {
        // Two heads in a row of stride 10: both rotated alike, the rest untouched.
        let table = try RopeTable(positions: 2, headDim: 4, theta: 10000, ledger: MemoryLedger(budget: .max))
        var x: [Float] = [1, 2, 3, 4, 1, 2, 3, 4, 9, 9]
        x.withUnsafeMutableBufferPointer { p in
            Kernels.rope(p.baseAddress!, rows: 1, rowStride: 10, heads: 2, headDim: 4, table: table, firstPosition: 1)
        }
        let expected = [-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994]
        #expect(close(Array(x[0 ..< 4]), expected) && close(Array(x[4 ..< 8]), expected))
        #expect(x[8] == 9 && x[9] == 9)
    }

    @Test func softmax() {
        var s: [Float] = [1, 2, 3, 1000, 1001, 1002]
        Kernels.softmaxRows(&s, rows: 2, cols: 3, ld: 3)
        let e = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219]
        #expect(close(Array(s[0 ..< 3]), e) && close(Array(s[3 ..< 6]), e), "shift invariant, no overflow")
    }

    @Test func causalSoftmaxMasksTheFuture() {
        var s: [Float] = [5, 7, 9, 0, Float(log(3.0)), 8, 1, 1, 1]
        Kernels.softmaxRows(&s, rows: 3, cols: 3, ld: 3, causalFirst: 0)
        #expect(close(s, [1, 0, 0, 0.25, 0.75, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3]))
    }

    @Test func softmaxLongRowsAndTails() {
        // 37 columns: two full vectors and a tail; all equal -> 1/37 each.
        var s = [Float](repeating: -2, count: 2 * 40)
        Kernels.softmaxRows(&s, rows: 2, cols: 37, ld: 40)
        #expect(close(Array(s[0 ..< 37]), Array(repeating: 1.0 / 37, count: 37)))
        #expect(Array(s[37 ..< 40]) == [-2, -2, -2], "padding between rows untouched")
    }

    @Test func vectorExpMatchesLibm() {
        let xs: [Float] = (0 ..< 1000).map { Float($0) * 0.17 - 87 }
        var ys = [Float](repeating: 0, count: xs.count)
        lk_exp(xs, &ys, Int64(xs.count))
        for (x, y) in zip(xs, ys) {
            let e = Foundation.exp(Double(x))
            #expect(abs(Double(y) - e) <= 4e-7 * e, "exp(\(x)) = \(y), expected \(e)")
        }
    }

    @Test func swiGLU() {
        // gate|up per row: silu(1) * 2 and silu(-2) * 3.
        let gu: [Float] = [1, -2, 2, 3]
        var out = [Float](repeating: 0, count: 2)
        Kernels.siluMul(gu, rows: 1, n: 2, &out)
        #expect(close(out, [1.4621171572600098, -0.7152175321327052]))
    }

    /// Every binary16 bit pattern decodes as Swift's Float16 does (vector path and tail), and
    /// the runtime's scalar fallback agrees; every bfloat16 is its bits shifted.
    @Test func allHalfPatternsDecodeExactly() {
        let bits = (0 ... 0xFFFF).map { UInt16($0) }
        var out = [Float](repeating: 0, count: bits.count)
        lk_f16_to_f32(bits, &out, Int64(bits.count))
        var bad = 0
        for (b, f) in zip(bits, out) {
            let e = Float(Float16(bitPattern: b))
            let soft = Float(halfBits: b)
            if !(f.bitPattern == e.bitPattern || (f.isNaN && e.isNaN)) { bad += 1 }
            if !(soft.bitPattern == e.bitPattern || (soft.isNaN && e.isNaN)) { bad += 1 }
        }
        #expect(bad == 0)
        #expect(out[0x7C00] == .infinity && out[0xFC00] == -.infinity && out[0x7E00].isNaN && out[0x8000].sign == .minus)
        lk_bf16_to_f32(bits, &out, Int64(bits.count))
        #expect(zip(bits, out).allSatisfy { $1.bitPattern == UInt32($0) << 16 })
    }

    @Test func halfAndBFloatDecoding() throws {
        // F16: 1.0, -2.0, 65504, smallest subnormal; BF16: 1.0, -0.5.
        let half: [UInt16] = [0x3C00, 0xC000, 0x7BFF, 0x0001]
        var out = [Float](repeating: 0, count: 4)
        try half.withUnsafeBytes { raw in
            try FloatDecoding.decode(raw, dtype: .f16, count: 4, into: &out, tensor: "h")
        }
        #expect(out == [1, -2, 65504, Float(sign: .plus, exponent: -24, significand: 1)])
        let bf: [UInt16] = [0x3F80, 0xBF00]
        var out2 = [Float](repeating: 0, count: 2)
        try bf.withUnsafeBytes { raw in try FloatDecoding.decode(raw, dtype: .bf16, count: 2, into: &out2, tensor: "b") }
        #expect(out2 == [1, -0.5])
        try [Double(0.1), -3].withUnsafeBytes { raw in try FloatDecoding.decode(raw, dtype: .f64, count: 2, into: &out2, tensor: "d") }
        #expect(out2 == [Float(0.1), -3])
        #expect(throws: RuntimeError.wrongByteCount(tensor: "d", expected: 24, found: 16)) {
            try [Double(0.1), -3].withUnsafeBytes { raw in try FloatDecoding.decode(raw, dtype: .f64, count: 3, into: &out2, tensor: "d") }
        }
        #expect(throws: RuntimeError.unsupportedDType(tensor: "i", dtype: .i32, allowed: FloatDecoding.weightDTypes)) {
            try [Int32(1)].withUnsafeBytes { raw in try FloatDecoding.decode(raw, dtype: .i32, count: 1, into: &out2, tensor: "i") }
        }
    }
}

import Foundation
