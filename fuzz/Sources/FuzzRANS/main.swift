import FuzzSupport
import LatteFormat

// The rans32 decoder, differentially: the AVX2 loop and the portable loop must agree on
// every stream, on the bytes decoded and on the error. Two kinds of streams, by the first
// byte's low bit:
//   0: arbitrary: bytes 1-2 give the symbol count, the rest is the stream;
//   1: near-valid: the rest is encoded, then one byte of the stream (at bytes 1-2, unless
//      0xFFFF) is flipped, which reaches deep into both loops. Unflipped, it must decode.
runFuzzer { bytes in
    guard bytes.count >= 3 else { return }
    var n = Int(bytes[1]) | Int(bytes[2]) << 8
    var stream = Array(bytes[3...])
    if bytes[0] & 1 == 1 {
        let data = stream
        let counts = data.reduce(into: [Int](repeating: 0, count: 256)) { $0[Int($1)] += 1 }
        stream = data.withUnsafeBytes { RANS.encode($0, counts: counts) }
        if n != 0xFFFF { stream[n % stream.count] ^= (bytes[0] >> 1) | 1 }
        let flipped = n != 0xFFFF
        n = data.count
        if !flipped {
            var out = [UInt8](repeating: 0, count: n)
            do { try stream.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try RANS.decode(s, into: $0) } } } catch {
                preconditionFailure("an encoded stream does not decode: \(error)")
            }
            precondition(out == data, "an encoded stream decodes to other bytes")
        }
    }
    func decode(simd: Bool) -> ([UInt8], RANS.DecodeError?) {
        var out = [UInt8](repeating: 0, count: n)
        do {
            try stream.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try RANS.decode(s, into: $0, simd: simd) } }
            return (out, nil)
        } catch { return (out, (error as! RANS.DecodeError)) }
    }
    let (a, ea) = decode(simd: true)
    let (b, eb) = decode(simd: false)
    precondition(ea == eb, "decoders disagree on the outcome: \(String(describing: ea)) vs \(String(describing: eb))")
    if ea == nil { precondition(a == b, "decoders disagree on the bytes") }
}
