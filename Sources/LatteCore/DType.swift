/// An element type, named as safetensors names it (the names `latte` prints and stores).
public enum DType: String, Sendable, CaseIterable, Codable {
    case bool = "BOOL"
    case u8 = "U8", i8 = "I8"
    case i16 = "I16", u16 = "U16"
    case i32 = "I32", u32 = "U32"
    case i64 = "I64", u64 = "U64"
    case f16 = "F16", bf16 = "BF16", f32 = "F32", f64 = "F64"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", f8e8m0 = "F8_E8M0"
    case f4 = "F4", f6e2m3 = "F6_E2M3", f6e3m2 = "F6_E3M2"
    case c64 = "C64", c128 = "C128"

    /// The safetensors name, e.g. `"BF16"`.
    public var name: String { rawValue }

    /// Width of one element in bits (4 and 6 for the sub-byte float kinds).
    public var bitWidth: Int {
        switch self {
        case .f4: 4
        case .f6e2m3, .f6e3m2: 6
        case .bool, .u8, .i8, .f8e4m3, .f8e5m2, .f8e8m0: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .i64, .u64, .f64, .c64: 64
        case .c128: 128
        }
    }

    /// Bytes per element for whole-byte types; nil for the sub-byte kinds.
    public var byteWidth: Int? { bitWidth % 8 == 0 ? bitWidth / 8 : nil }

    /// The unit that byte-order swapping works on (a complex number swaps each half).
    public var swapUnit: Int {
        switch self {
        case .c64: 4
        case .c128: 8
        default: max(1, bitWidth / 8)
        }
    }

    /// True for the IEEE-like floating types whose bytes the format splits into planes.
    public var isFloatingPoint: Bool {
        switch self {
        case .f16, .bf16, .f32, .f64, .f8e4m3, .f8e5m2, .f8e8m0, .f4, .f6e2m3, .f6e3m2, .c64, .c128: true
        default: false
        }
    }

    /// Bytes taken by `count` elements, or nil when the count does not fill whole bytes
    /// (sub-byte types) or the product overflows.
    public func byteCount(elements count: Int) -> Int? {
        let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}

/// Overflow-checked product of a shape's dimensions; nil when it overflows or a dimension is negative.
public func elementCount(of shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

/// Row-major (C order) strides, in elements, of a shape.
public func contiguousStrides(of shape: [Int]) -> [Int] {
    var strides = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
        strides[i] = acc
        acc &*= max(shape[i], 1)
    }
    return strides
}
