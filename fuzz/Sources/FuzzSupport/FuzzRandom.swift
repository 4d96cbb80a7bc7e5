/// A small deterministic generator (SplitMix64) for custom mutators: libFuzzer hands each
/// mutator call a seed, so a run with `-seed=N` makes the same choices every time.
public struct FuzzRandom {
    private var state: UInt64

    public init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0 ..< n` (0 when `n` ≤ 0).
    public mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(next() % UInt64(n)) }

    /// A number in `range`.
    public mutating func within(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + below(range.upperBound - range.lowerBound + 1)
    }

    /// True with probability `percent` / 100.
    public mutating func chance(_ percent: Int) -> Bool { below(100) < percent }

    public mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    public mutating func bytes(_ n: Int) -> [UInt8] { (0 ..< n).map { _ in UInt8(truncatingIfNeeded: next()) } }

    /// Integers where size arithmetic breaks: zero and one, powers of two and their
    /// neighbours up to `Int64.max`, negatives.
    public static let boundaries: [Int64] = [
        0, 1, 2, 3, 7, 8, 15, 16, 63, 64, 65, 255, 256, 4095, 4096, 65535, 65536,
        1 << 20, 1 << 24, (1 << 26) - 1, 1 << 26, (1 << 26) + 1, Int64(Int32.max), 1 << 31, (1 << 32) - 1, 1 << 32,
        1 << 40, 1 << 53, 1 << 62, Int64.max - 1, Int64.max, -1, -2, Int64.min,
    ]

    /// A boundary value, or one derived from `near` (±1, doubled, halved, negated).
    public mutating func boundary(near value: Int64) -> Int64 {
        switch below(4) {
        case 0: return value &+ Int64(within(-2 ... 2))
        case 1: return below(2) == 0 ? value &* 2 : value / 2
        case 2: return Int64.max &- value
        default: return FuzzRandom.boundaries[below(FuzzRandom.boundaries.count)]
        }
    }
}

/// libFuzzer's own byte-level mutator, for the parts a structure-aware mutator treats as
/// opaque bytes (chunk payloads, strings). Returns the new size (at most `maxSize`).
@_silgen_name("LLVMFuzzerMutate")
public func LLVMFuzzerMutate(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int) -> Int

/// `bytes` mutated by libFuzzer's mutator, within `maxSize` bytes.
public func libFuzzerMutated(_ bytes: [UInt8], maxSize: Int) -> [UInt8] {
    var buffer = bytes + [UInt8](repeating: 0, count: max(0, maxSize - bytes.count))
    if buffer.isEmpty { return [] }
    let n = buffer.withUnsafeMutableBufferPointer { LLVMFuzzerMutate($0.baseAddress!, min(bytes.count, $0.count), $0.count) }
    return Array(buffer[0 ..< n])
}

/// Copies `bytes` into libFuzzer's buffer when they fit; else leaves it alone. Returns the
/// size libFuzzer should use.
public func handBack(_ bytes: [UInt8], to data: UnsafeMutablePointer<UInt8>, size: Int, maxSize: Int) -> Int {
    guard bytes.count <= maxSize else { return size }
    guard !bytes.isEmpty else { return 0 }
    bytes.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: $0.count) }
    return bytes.count
}
