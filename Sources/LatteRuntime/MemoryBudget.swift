import LatteCore
import LatteSystem

/// How much memory a run may take. Every size in a run comes from a file (a config, an
/// inputs file, a `run.json`), so the whole run is estimated up front (`RunEstimate`) and
/// refused past the budget before anything is allocated; while it runs, every float buffer
/// is reserved in a `MemoryLedger` against the same budget.
public enum MemoryBudget {
    /// What the automatic budget allows whatever the model: the fixtures and every small
    /// model run within it, and the process stays under 1 GiB (it needs ~30 MiB besides).
    public static let floorBytes = 512 << 20

    /// The automatic budget of a model whose float32 weights take `weightBytes`: twice that
    /// plus `floorBytes` (so a run's activations may take as much as the model itself), and
    /// never more than 3/4 of the machine's memory.
    ///
    /// Why relative to the weights: they are the bytes really present (checked against the
    /// file), while the activations grow with numbers a file merely states (the latent
    /// size, the context length). Realistic runs sit well inside: the paper's 2B model at
    /// 1024×1024 with guidance needs ~2.4 GB of activations for 12.5 GB of weights. A tiny
    /// model whose config claims a 2048×2048 latent does not get 4 GiB of attention maps.
    public static func automatic(weightBytes: Int, machine: Int = machineBytes) -> Int {
        let (twice, o1) = weightBytes.multipliedReportingOverflow(by: 2)
        let (relative, o2) = twice.addingReportingOverflow(floorBytes)
        return min(o1 || o2 ? Int.max : relative, machine / 4 * 3)
    }

    /// The machine's memory: physical memory, or the cgroup's limit when that is lower.
    public static let machineBytes: Int = {
        var bytes = SystemInfo.physicalMemoryBytes ?? Int.max
        for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
            if let limit = readSmallNumber(path), limit > 0 { bytes = min(bytes, limit) }
        }
        return bytes
    }()

    /// A decimal number at the start of a small system file ("max" and anything else: nil).
    private static func readSmallNumber(_ path: String) -> Int? {
        guard let fd = try? FileIO.openForReading(path) else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        guard let n = buffer.withUnsafeMutableBytes({ try? FileIO.read(fd, into: $0) }), n > 0 else { return nil }
        let digits = buffer[..<n].prefix { $0 >= 0x30 && $0 <= 0x39 }
        guard !digits.isEmpty, digits.count < 19 else { return nil }
        return Int(String(decoding: digits, as: UTF8.self))
    }

    /// Parses a size as `--memory-budget` takes it: bytes, or a number with K, M, G or T
    /// (binary units, an optional trailing `B` or `iB`), e.g. `512M`, `1.5G`.
    public static func parse(_ text: String) -> Int? {
        var s = Substring(text.uppercased())
        if s.hasSuffix("IB") { s = s.dropLast(2) } else if s.hasSuffix("B") { s = s.dropLast() }
        var scale = 1.0
        if let unit = s.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(unit)] {
            for _ in 0 ..< power { scale *= 1024 }
            s = s.dropLast()
        }
        guard let value = Double(s), value.isFinite, value > 0 else { return nil }
        let bytes = value * scale
        guard bytes >= 1, bytes < 0x1p62 else { return nil }
        return Int(bytes)
    }
}

/// The float buffers a model holds, counted against its memory budget: each is reserved
/// here before it is allocated and released when it is freed, so no allocation can pass
/// the budget, whichever API path asked for it. `peak` lets tests compare the up-front
/// estimate with what a run really held.
public final class MemoryLedger: Sendable {
    public let budget: Int
    private let counts = HeapMutex(Counts())
    private struct Counts {
        var held = 0
        var peak = 0
    }

    public init(budget: Int) { self.budget = budget }

    /// Bytes reserved now.
    public var held: Int { counts.withLock { $0.held } }
    /// The most bytes reserved at once so far.
    public var peak: Int { counts.withLock { $0.peak } }

    /// Reserves `bytes` (nil: a size that overflowed) for `what`, or throws naming it.
    func reserve(_ bytes: Int?, for what: @autoclosure () -> String) throws(RuntimeError) {
        let budget = budget
        try counts.withLock { (c: inout Counts) throws(RuntimeError) in
            guard let bytes, bytes >= 0 else {
                throw .overMemoryBudget("\(what()) would need more memory than 64-bit sizes can count")
            }
            let (total, overflow) = c.held.addingReportingOverflow(bytes)
            guard !overflow, total <= budget else {
                throw .overMemoryBudget("\(what()) would need \(formatBytes(bytes)) on top of the \(formatBytes(c.held)) held,"
                    + " above the memory budget of \(formatBytes(budget))")
            }
            c.held = total
            c.peak = max(c.peak, total)
        }
    }

    func release(_ bytes: Int) { counts.withLock { $0.held -= bytes } }
}

/// Checked products and sums of sizes: nil as soon as one overflows.
enum Checked {
    static func product(_ factors: Int?...) -> Int? { product(factors) }

    /// The product of non-negative factors; nil when one is nil or negative, or on overflow.
    static func product(_ factors: [Int?]) -> Int? {
        var p = 1
        for f in factors {
            guard let f, f >= 0 else { return nil }
            let (r, o) = p.multipliedReportingOverflow(by: f)
            if o { return nil }
            p = r
        }
        return p
    }

    static func sum(_ terms: Int?...) -> Int? { sum(terms) }

    static func sum(_ terms: [Int?]) -> Int? {
        var s = 0
        for t in terms {
            guard let t else { return nil }
            let (r, o) = s.addingReportingOverflow(t)
            if o { return nil }
            s = r
        }
        return s
    }

    /// Bytes of `count` float32 values.
    static func floats(_ count: Int?) -> Int? { count.flatMap { product($0, 4) } }
}
