import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `latte` as a separate process under a wall-clock limit and reports what it
/// cost: exit status, peak resident memory (`wait4`'s `ru_maxrss`) and elapsed time. The
/// hostile-corpus tests use it to hold every crafted input to the resource budget of
/// docs/RELIABILITY.md, which in-process tests cannot observe.
struct LimitedRun {
    /// The exit code, or 128 + the signal number when the process was killed.
    var status: Int32
    var stdout: String
    var stderr: String
    var peakRSSBytes: Int
    var seconds: Double
    var timedOut: Bool

    var killedBySignal: Bool { status > 128 }

    /// Runs `latte arguments` in `directory` with standard input from /dev/null; SIGKILLs it
    /// after `timeout` seconds.
    static func latte(_ arguments: [String], in directory: String, timeout: Double) throws -> LimitedRun {
        let logs = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: logs) }
        let outPath = logs.appendingPathComponent("stdout").path
        let errPath = logs.appendingPathComponent("stderr").path

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        // The shell only changes folder, then `exec`s latte: the rusage is latte's own.
        let argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory, CLI.executable.path] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let start = DispatchTime.now()
        let rc = posix_spawn(&pid, "/bin/sh", &actions, nil, &cArgs, environ)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }

        var status: Int32 = 0
        var usage = rusage()
        var timedOut = false
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0, errno != EINTR { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
            if !timedOut, Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9 > timeout {
                timedOut = true
                kill(pid, SIGKILL)
            }
            usleep(2000)
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Glibc's macros do not export to Swift.
        let code: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        func text(_ path: String) -> String {
            String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
        }
        return LimitedRun(status: code, stdout: text(outPath), stderr: text(errPath),
                          peakRSSBytes: Int(usage.ru_maxrss) * 1024, seconds: seconds, timedOut: timedOut)
    }
}
