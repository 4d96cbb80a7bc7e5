import LatteSystem
import LatteCore
import LatteRuntime

/// What a progress bar counts.
enum ProgressUnit: Sendable {
    /// Bytes, shown as sizes: `12.3 MiB / 100.0 MiB  45.6 MiB/s`.
    case bytes
    /// Sampling steps and velocity evaluations: `12 / 40 steps  2.50 steps/s`.
    case steps
}

/// A one-line progress bar on stderr: done of total, rate and time left, redrawn at most ten
/// times a second. Each frame is `\r`, the text, then ESC `[K` (erase to the end of the line),
/// so a frame shorter than the one before leaves none of its characters behind.
///
/// `@unchecked Sendable`: a library job's progress handler must be `@Sendable`, but the bar is
/// only used from the thread running the command, as every library calls its handler on the
/// thread that started the job (see `ProgressHandler`).
final class ProgressBar: @unchecked Sendable {
    let unit: ProgressUnit
    private let clock: () -> Double
    private let output: (String) -> Void
    private let start: Double
    private var lastDraw: Double?
    private var lastCount: (done: Int, total: Int)?
    private var drawn = false

    /// A bar drawing through `output` (default: stderr), timed by `clock` (seconds).
    init(unit: ProgressUnit, clock: @escaping () -> Double = monotonicSeconds, output: @escaping (String) -> Void = { writeAll(2, $0) }) {
        self.unit = unit
        self.clock = clock
        self.output = output
        start = clock()
    }

    /// A bar for a command's long job, or nil when there must be none: with `--no-progress`,
    /// or when stderr is not a terminal (a log file, a pipe, CI), where frames would be noise.
    static func forCommand(_ unit: ProgressUnit, disabled: Bool) -> ProgressBar? {
        disabled || isatty(2) != 1 ? nil : ProgressBar(unit: unit)
    }

    /// The handler that draws this bar, for a library job.
    var handler: ProgressHandler { { [self] done, total in update(done, total) } }

    /// Draws `done` of `total`, unless the count is the one on screen, or the last frame is
    /// under 0.1 s old and this is not the end.
    func update(_ done: Int, _ total: Int) {
        if drawn, let lastCount, lastCount == (done, total) { return }
        let t = clock()
        if let lastDraw, t - lastDraw < 0.1, done < total { return }
        lastDraw = t
        lastCount = (done, total)
        output("\r" + ProgressBar.text(done: done, total: total, elapsed: t - start, unit: unit) + "\u{1B}[K")
        drawn = true
    }

    /// Erases the bar if it is drawn, so the next line on stderr (a summary, an error) is a
    /// clean line of its own; the next `update` draws it again.
    func erase() {
        guard drawn else { return }
        output("\r\u{1B}[K")
        drawn = false
        lastDraw = nil
    }

    /// One frame's text: `[#####.........] 12.3 MiB / 100.0 MiB  45.6 MiB/s  ETA 2s`.
    static func text(done: Int, total: Int, elapsed: Double, unit: ProgressUnit) -> String {
        let width = 30
        let fraction = total <= 0 ? 1 : min(1, max(0, Double(done) / Double(total)))
        let filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        let rate = elapsed > 0 && done > 0 ? Double(done) / elapsed : nil
        let eta = rate.map { duration(Double(max(0, total - done)) / $0) } ?? "-"
        switch unit {
        case .bytes:
            let speed = rate.map { formatBytes(Int(min($0, 1e18))) + "/s" } ?? "- B/s"
            return "[\(bar)] \(formatBytes(done)) / \(formatBytes(total))  \(speed)  ETA \(eta)"
        case .steps:
            let speed = rate.map { formatFixed($0, digits: $0 < 10 ? 2 : 1) } ?? "-"
            return "[\(bar)] \(done) / \(total) steps  \(speed) steps/s  ETA \(eta)"
        }
    }

    /// Time left as `7s`, `2m05s`, `1h02m`; past 99 hours, `>99h`.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite, seconds < 99 * 3600 else { return ">99h" }
        let s = Int(seconds.rounded(.up))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(two(s % 60))s" }
        return "\(s / 3600)h\(two(s / 60 % 60))m"
    }
}
