import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Output of a finished process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The process was still running after its timeout and was killed.
    public var timedOut = false
}

/// Runs `executable` with `arguments` (and `environment` added to ours), collecting its
/// output. A run still going after `timeout` seconds is killed and reported with `timedOut`,
/// so a hang fails its test instead of stopping the suite.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String] = [:],
                       timeout: Double = 120) throws -> ProcessResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    let out = Pipe(), err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let timedOut = Box(false)
    let watchdog = DispatchWorkItem {
        timedOut.value = true
        kill(p.processIdentifier, SIGKILL)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    // Read both pipes before waiting so a large output cannot block the child.
    let errData = Box(Data())
    let group = DispatchGroup()
    group.enter()
    DispatchQueue.global().async { errData.value = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    p.waitUntilExit()
    watchdog.cancel()
    return ProcessResult(status: p.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.value, as: UTF8.self), timedOut: timedOut.value)
}

/// A value the watchdog and reader threads set once and the caller reads after they are
/// done (`group.wait`, `waitUntilExit`, `cancel`), hence unchecked.
private final class Box<Value>: @unchecked Sendable {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// The `latte` executable `swift build --build-tests` builds beside the test bundle.
public enum LatteExecutable {
    public static let path: String = {
        // The test runner may be the bundle itself or live inside a `.xctest` folder.
        let runner = [URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
                      URL(fileURLWithPath: CommandLine.arguments[0])]
        for r in runner {
            let dir = r.deletingLastPathComponent()
            for candidate in [dir, dir.deletingLastPathComponent(), dir.deletingLastPathComponent().deletingLastPathComponent()] {
                let latte = candidate.appendingPathComponent("latte").path
                if FileManager.default.isExecutableFile(atPath: latte) { return latte }
            }
        }
        return packageRoot + "/.build/debug/latte"
    }()

    /// Runs `latte arguments` (see `runProcess`).
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> ProcessResult {
        try runProcess(path, arguments, environment: environment, timeout: timeout)
    }
}
