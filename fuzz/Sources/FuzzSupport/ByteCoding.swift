/// The compact binary form of the structured descriptions that some targets take as input:
/// LEB128 varints, zigzag for signed values, length-prefixed UTF-8 text.
public struct ByteWriter {
    public private(set) var out: [UInt8] = []
    public init() {}
    public mutating func byte(_ b: UInt8) { out.append(b) }
    public mutating func bytes(_ b: [UInt8]) { out += b }
    public mutating func varint(_ v: Int) {
        var u = UInt64(max(v, 0))
        while u >= 0x80 { out.append(UInt8(u & 0x7F) | 0x80); u >>= 7 }
        out.append(UInt8(u))
    }
    /// Zigzag, so small negative numbers stay short.
    public mutating func signed(_ v: Int64) {
        var u = UInt64(bitPattern: (v << 1) ^ (v >> 63))
        while u >= 0x80 { out.append(UInt8(u & 0x7F) | 0x80); u >>= 7 }
        out.append(UInt8(u))
    }
    public mutating func text(_ s: String) { let b = Array(s.utf8); varint(b.count); out += b }
}

/// Reads what `ByteWriter` writes; every read returns nil past the end.
public struct ByteReader {
    let b: UnsafeRawBufferPointer
    var pos = 0
    public init(_ b: UnsafeRawBufferPointer) { self.b = b }
    public mutating func byte() -> UInt8? { guard pos < b.count else { return nil }; defer { pos += 1 }; return b[pos] }
    public mutating func take(_ n: Int) -> [UInt8]? {
        guard n >= 0, n <= b.count - pos else { return nil }
        defer { pos += n }
        return Array(b[pos ..< pos + n])
    }
    public mutating func unsigned() -> UInt64? {
        var v: UInt64 = 0
        for shift in stride(from: 0, to: 64, by: 7) {
            guard let x = byte() else { return nil }
            v |= UInt64(x & 0x7F) << UInt64(shift)
            if x & 0x80 == 0 { return v }
        }
        return nil
    }
    public mutating func varint() -> Int? { unsigned().flatMap { Int(exactly: $0) } }
    public mutating func signed() -> Int64? { unsigned().map { Int64(bitPattern: ($0 >> 1) ^ (0 &- ($0 & 1))) } }
    public mutating func text(_ limit: Int) -> String? {
        guard let n = varint(), n <= limit, let bytes = take(n) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
