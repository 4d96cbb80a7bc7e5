import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// With stderr on a terminal (a pseudo-terminal here), the long commands draw their bar, and
/// erase it before any other line on stderr, errors included.
@Suite struct ProgressTerminalTests {
    /// Runs `latte arguments` with stderr on a new pseudo-terminal (stdin and stdout on
    /// /dev/null) and returns the exit status and what it wrote to the terminal.
    func runOnTerminal(_ arguments: [String]) throws -> (status: Int32, terminal: String) {
        let pty = try #require(PseudoTerminalCalls())
        let master = pty.openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(master >= 0 && pty.grantpt(master) == 0 && pty.unlockpt(master) == 0)
        defer { close(master) }
        let name = String(cString: try #require(pty.ptsname(master)))
        // Held open here too, so the master reads block (rather than fail) until the child is done.
        let slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)
        #expect(slave >= 0)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, slave, 2)
        let argv = [CLI.executable.path] + arguments
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { for p in cArgs { free(p) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, CLI.executable.path, &actions, nil, &cArgs, environ)
        guard spawned == 0 else { close(slave); throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EINVAL) }

        // Read while the child writes (a terminal's buffer is small), until the last slave closes.
        final class Box: @unchecked Sendable { var bytes: [UInt8] = [] }
        let box = Box()
        let reader = DispatchGroup()
        reader.enter()
        DispatchQueue.global().async {
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(master, &buf, buf.count)
                if n > 0 { box.bytes += buf[0 ..< n] } else if n < 0 && errno == EINTR { continue } else { break }
            }
            reader.leave()
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        close(slave)
        #expect(reader.wait(timeout: .now() + 30) == .success, "the terminal's reader ended")
        let code = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return (code, String(decoding: box.bytes, as: UTF8.self))
    }

    @Test func convertAndExportDrawTheirBarAndEraseIt() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let latte = dir.appendingPathComponent("tiny.latte").path
        let convert = try runOnTerminal(["convert", CLI.fixture("models/tiny"), "-o", latte])
        #expect(convert.status == 0, "\(convert.terminal)")
        #expect(convert.terminal.hasPrefix("\r["), "\(convert.terminal.debugDescription)")
        #expect(convert.terminal.contains(" MiB / 2.97 MiB  "))
        // The last frame shows the total; the bar is erased, then the summary is a line of its
        // own (the terminal writes \n as \r\n).
        #expect(convert.terminal.contains("] 2.97 MiB / 2.97 MiB  "), "the last frame shows the total")
        let summary = try #require(convert.terminal.components(separatedBy: "\u{1B}[K\r\u{1B}[K").last)
        #expect(summary.hasPrefix("wrote \(latte): 253 tensors, 2.97 MiB -> "), "\(convert.terminal.debugDescription)")
        #expect(summary.hasSuffix(")\r\n") && summary.dropLast(2).allSatisfy { $0 != "\r" && $0 != "\n" && $0 != "\u{1B}" })

        let export = try runOnTerminal(["export", latte, "-o", dir.appendingPathComponent("t.safetensors").path])
        #expect(export.status == 0)
        #expect(export.terminal.hasPrefix("\r["))
        #expect(export.terminal.contains("] 2.97 MiB / 2.97 MiB  "), "the last frame shows the total")
        #expect(export.terminal.hasSuffix("\r\u{1B}[K"), "erased at the end: \(export.terminal.debugDescription)")

        let quiet = try runOnTerminal(["export", latte, "-o", dir.appendingPathComponent("q.safetensors").path, "--no-progress"])
        #expect(quiet.status == 0)
        #expect(quiet.terminal.isEmpty, "\(quiet.terminal.debugDescription)")
    }

    /// An error in the middle of the work: the bar is erased and the error is a clean line.
    @Test func anErrorIsALineOfItsOwn() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let latte = dir.appendingPathComponent("tiny.latte").path
        #expect(try CLI.run(["convert", CLI.fixture("models/tiny"), "-o", latte]).status == 0)
        // 256 bytes in the middle of the data: a chunk there fails to decode or to check.
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: latte)))
        for i in bytes.count / 2 ..< bytes.count / 2 + 256 { bytes[i] ^= 0x5A }
        try Data(bytes).write(to: URL(fileURLWithPath: latte))
        let r = try runOnTerminal(["export", latte, "-o", dir.appendingPathComponent("t.safetensors").path])
        #expect(r.status == 1)
        #expect(r.terminal.hasPrefix("\r["), "some progress before the damage: \(r.terminal.debugDescription)")
        let last = try #require(r.terminal.components(separatedBy: "\r\u{1B}[K").last)
        #expect(last.hasPrefix("error: \(latte): "), "\(r.terminal.debugDescription)")
        #expect(last.hasSuffix("\r\n") && last.dropLast(2).allSatisfy { $0 != "\r" && $0 != "\n" && $0 != "\u{1B}" })
    }
}

/// The C library's pseudo-terminal calls, looked up by name: Swift's Glibc module leaves them
/// out (they sit behind `_XOPEN_SOURCE` in <stdlib.h>).
struct PseudoTerminalCalls {
    let openpt: @convention(c) (Int32) -> Int32
    let grantpt: @convention(c) (Int32) -> Int32
    let unlockpt: @convention(c) (Int32) -> Int32
    let ptsname: @convention(c) (Int32) -> UnsafeMutablePointer<CChar>?

    init?() {
        guard let libc = dlopen(nil, RTLD_NOW) else { return nil }
        func symbol<T>(_ name: String, as type: T.Type) -> T? { dlsym(libc, name).map { unsafeBitCast($0, to: type) } }
        guard let openpt = symbol("posix_openpt", as: (@convention(c) (Int32) -> Int32).self),
              let grantpt = symbol("grantpt", as: (@convention(c) (Int32) -> Int32).self),
              let unlockpt = symbol("unlockpt", as: (@convention(c) (Int32) -> Int32).self),
              let ptsname = symbol("ptsname", as: (@convention(c) (Int32) -> UnsafeMutablePointer<CChar>?).self)
        else { return nil }
        (self.openpt, self.grantpt, self.unlockpt, self.ptsname) = (openpt, grantpt, unlockpt, ptsname)
    }
}
