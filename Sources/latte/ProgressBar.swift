#if canImport(Glibc)
import Glibc
#endif
import LatteCore

/// A one-line progress bar on stderr: bytes done, throughput, ETA. Redrawn at most ten
/// times a second; only used when stderr is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let start = ProgressBar.now()
    private var lastDraw = 0.0

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    func update(_ done: Int, _ total: Int) {
        let t = ProgressBar.now()
        if t - lastDraw < 0.1 && done < total { return }
        lastDraw = t
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
