import Testing
@testable import latte

/// The progress bar's frames, drawn through a captured output on a test clock.
@Suite struct ProgressBarTests {
    /// A bar whose frames land in `frames`, at the times `clock` is set to.
    final class Harness {
        var time = 100.0
        var frames: [String] = []
        var bar: ProgressBar!

        /// The bar starts at the harness's time 100.
        init() {
            bar = ProgressBar(unit: .bytes, clock: { [unowned self] in self.time }, output: { [unowned self] in self.frames.append($0) })
        }
    }

    /// What a terminal shows on the bar's line after `frames`: `\r` moves to column 0,
    /// ESC `[K` erases from the cursor to the end of the line, other characters overwrite.
    func visibleLine(after frames: [String]) -> String {
        var line: [Character] = [], cursor = 0
        var text = Substring(frames.joined())
        while let c = text.first {
            if text.hasPrefix("\u{1B}[K") {
                line.removeSubrange(min(cursor, line.count)...)
                text = text.dropFirst(3)
                continue
            }
            if c == "\r" {
                cursor = 0
            } else {
                if cursor < line.count { line[cursor] = c } else { line.append(c) }
                cursor += 1
            }
            text = text.dropFirst()
        }
        return String(line)
    }

    @Test func bytesFrameShowsSizesRateAndTimeLeft() {
        let mib = 1 << 20
        #expect(ProgressBar.text(done: 12 * mib, total: 100 * mib, elapsed: 2, unit: .bytes)
            == "[###...........................] 12.0 MiB / 100.0 MiB  6.00 MiB/s  ETA 15s")
        #expect(ProgressBar.text(done: 100 * mib, total: 100 * mib, elapsed: 4, unit: .bytes)
            == "[##############################] 100.0 MiB / 100.0 MiB  25.0 MiB/s  ETA 0s")
        // Nothing done yet: no rate, so no estimate.
        #expect(ProgressBar.text(done: 0, total: 5000, elapsed: 0.5, unit: .bytes)
            == "[..............................] 0 B / 4.88 KiB  - B/s  ETA -")
        // An empty job is complete.
        #expect(ProgressBar.text(done: 0, total: 0, elapsed: 1, unit: .bytes)
            == "[##############################] 0 B / 0 B  - B/s  ETA -")
    }

    @Test func stepsFrameShowsStepsAndStepRate() {
        #expect(ProgressBar.text(done: 12, total: 40, elapsed: 4.8, unit: .steps)
            == "[#########.....................] 12 / 40 steps  2.50 steps/s  ETA 12s")
        #expect(ProgressBar.text(done: 1, total: 10000, elapsed: 4, unit: .steps)
            == "[..............................] 1 / 10000 steps  0.25 steps/s  ETA 11h06m")
        #expect(ProgressBar.text(done: 400, total: 400, elapsed: 8, unit: .steps)
            == "[##############################] 400 / 400 steps  50.0 steps/s  ETA 0s")
    }

    @Test func timeLeftReadsAsSecondsMinutesHours() {
        #expect(ProgressBar.duration(0) == "0s")
        #expect(ProgressBar.duration(6.2) == "7s")
        #expect(ProgressBar.duration(59) == "59s")
        #expect(ProgressBar.duration(60) == "1m00s")
        #expect(ProgressBar.duration(125) == "2m05s")
        #expect(ProgressBar.duration(3725) == "1h02m")
        #expect(ProgressBar.duration(99 * 3600) == ">99h")
        #expect(ProgressBar.duration(.infinity) == ">99h")
    }

    /// The convert bar used to leave "ETA 7s  s" behind when a frame got shorter.
    @Test func aShorterFrameLeavesNoStrayCharacters() {
        let h = Harness()
        let mib = 1 << 20
        h.time += 1
        h.bar.update(1 * mib, 1000 * mib)  // slow start: a long time left
        h.time += 0.5
        h.bar.update(600 * mib, 1000 * mib)
        #expect(h.frames.count == 2)
        let long = ProgressBar.text(done: 1 * mib, total: 1000 * mib, elapsed: 1, unit: .bytes)
        let short = ProgressBar.text(done: 600 * mib, total: 1000 * mib, elapsed: 1.5, unit: .bytes)
        #expect(long.hasSuffix("ETA 16m39s") && short.hasSuffix("ETA 1s"))
        #expect(short.count < long.count)
        #expect(h.frames[1] == "\r" + short + "\u{1B}[K")
        #expect(visibleLine(after: h.frames) == short)
    }

    @Test func framesAreThrottledToTenASecondButTheLastIsDrawn() {
        let h = Harness()
        h.bar.update(1, 10)
        h.time += 0.05
        h.bar.update(2, 10)  // too soon
        h.time += 0.06
        h.bar.update(3, 10)
        h.time += 0.01
        h.bar.update(10, 10)  // the end is always drawn
        h.time += 1
        h.bar.update(10, 10)  // once
        #expect(h.frames.count == 3)
        #expect(h.frames.last == "\r" + ProgressBar.text(done: 10, total: 10, elapsed: 0.12, unit: .bytes) + "\u{1B}[K")
    }

    @Test func eraseLeavesACleanLineAndTheNextUpdateRedraws() {
        let h = Harness()
        h.bar.erase()
        #expect(h.frames.isEmpty, "nothing drawn, nothing to erase")
        h.bar.update(1, 10)
        h.bar.erase()
        h.bar.erase()
        #expect(h.frames.count == 2)
        #expect(h.frames[1] == "\r\u{1B}[K")
        #expect(visibleLine(after: h.frames) == "")
        h.bar.update(2, 10)  // within 0.1 s of the last frame, but the line was erased
        #expect(h.frames.count == 3)
    }
}
