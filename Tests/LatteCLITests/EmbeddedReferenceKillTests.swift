import Foundation
import Testing
import LatteTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// An embedded reference is read into memory: a `verify` killed in the middle of its
/// reference run leaves nothing on disk.
@Suite struct EmbeddedReferenceKillTests {
    @Test func aKilledVerifyLeavesNothing() throws {
        // A reference run that takes minutes (10,000 steps at 4096 image tokens), run anyway
        // and killed with SIGKILL in the middle of its steps.
        let before = referenceFolders()
        let file = CLI.fixture("hostile/runtime/run_json_over_work_budget.latte")
        let p = Process()
        p.executableURL = CLI.executable
        p.arguments = ["verify", file, "--allow-long-reference"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until it is sampling: it has mapped the model, its RSS holds the step workspace.
        var paths: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            paths = openPaths(p.processIdentifier)
            let status = procText("/proc/\(p.processIdentifier)/status")
            let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
            if paths.contains(file) && rss > 100_000 { break }
            usleep(20_000)
        }
        #expect(p.isRunning, "the reference run should still be running")
        #expect(paths.contains(file))
        #expect(!paths.contains { $0.contains("latte-reference") || $0.hasSuffix("/inputs.safetensors") }, "\(paths)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(referenceFolders().subtracting(before).isEmpty)
    }
}
