import LatteSystem
import LatteCore

/// A one-line progress bar on stderr: bytes done, throughput, ETA. Redrawn at most ten
/// times a second; only used when stderr is a terminal.
final class ProgressBar: Sendable {
    private let start = monotonicSeconds()
    /// When the bar was last drawn (progress callbacks are `@Sendable`: any thread may call).
    private let lastDraw = HeapMutex(0.0)

    func update(_ done: Int, _ total: Int) {
        let t = monotonicSeconds()
        let due = lastDraw.withLock { last in
            guard t - last >= 0.1 || done >= total else { return false }
            last = t
            return true
        }
        guard due else { return }
        let elapsed = max(t - start, 1e-6)
        let fraction = total == 0 ? 1 : Double(done) / Double(total)
        let width = 30
        let filled = min(width, Int(fraction * Double(width)))
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let line = "\r[\(bar)] \(formatBytes(done)) / \(formatBytes(total))  \(formatBytes(Int(rate)))/s  ETA \(formatFixed(eta, digits: 0))s "
        writeAll(2, line)
    }

    func finish() { writeAll(2, "\r\u{1B}[K") }
}
