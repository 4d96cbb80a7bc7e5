#if canImport(Glibc)
import Glibc
#endif
import Testing
import LatteCore
@testable import LatteFormat
import LatteTestSupport

/// `AtomicOutput` on both of its paths: the anonymous `O_TMPFILE` file (nothing in the folder
/// until `commit`) and the named fallback (`OUT.tmp-PID-RANDOM`, renamed when complete).
@Suite struct AtomicOutputTests {
    /// Writes `text` through a buffered write and a threaded region, as convert and export do.
    func fill(_ o: AtomicOutput, _ text: String) throws {
        let bytes = Array(text.utf8)
        try o.write(Array(bytes.prefix(3)))
        let rest = Array(bytes.dropFirst(3))
        try o.fillRegion(count: rest.count) { region in
            try rest.withUnsafeBytes { all in
                // Back to front, one byte per call: any order must give the same file.
                for i in stride(from: all.count - 1, through: 0, by: -1) {
                    try region.write(UnsafeRawBufferPointer(rebasing: all[i ..< i + 1]), at: i)
                }
            }
        }
    }

    @Test(arguments: [true, false]) func writesCommitsAndDiscards(anonymous: Bool) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let o = try AtomicOutput(path: dir.file("out.bin"), allowAnonymous: anonymous)
        // This test runs on /tmp, whose filesystem makes anonymous files (ext4, tmpfs, xfs, btrfs).
        #expect(o.isAnonymous == anonymous)
        try fill(o, "hello, world")
        #expect(dir.entries == (anonymous ? [] : [String(o.temporaryPath!.split(separator: "/").last!)]),
                "while writing, the folder holds no name (anonymous) or only the temporary one")
        try o.commit(sync: true)
        #expect(dir.entries == ["out.bin"])
        #expect(readFile(dir.file("out.bin")) == Array("hello, world".utf8))
        var st = stat()
        #expect(stat(dir.file("out.bin"), &st) == 0 && st.st_mode & 0o777 == 0o644 & ~currentUmask())

        let dropped = try AtomicOutput(path: dir.file("other.bin"), allowAnonymous: anonymous)
        try fill(dropped, "never seen")
        dropped.discard()
        #expect(dir.entries == ["out.bin"])
        do { let _ = try AtomicOutput(path: dir.file("gone.bin"), allowAnonymous: anonymous) }
        #expect(dir.entries == ["out.bin"], "deinit without commit leaves nothing")
    }

    /// Replacing: the old file is intact until the commit, then wholly the new one.
    @Test(arguments: [true, false]) func replacesAtomically(anonymous: Bool) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeFile(dir.file("out.bin"), Array("old contents".utf8))
        let o = try AtomicOutput(path: dir.file("out.bin"), allowAnonymous: anonymous)
        try fill(o, "new contents, longer")
        #expect(readFile(dir.file("out.bin")) == Array("old contents".utf8))
        try o.commit(sync: false)
        #expect(readFile(dir.file("out.bin")) == Array("new contents, longer".utf8))
        #expect(dir.entries == ["out.bin"])
    }

    /// The named fallback is taken when asked through the environment (the CLI tests' switch).
    @Test func theEnvironmentSwitchSelectsTheNamedFallback() throws {
        #expect(AtomicOutput.namedFallbackVariable == "LATTE_TEST_NAMED_TEMPORARY")
        // Other tests of this process may run meanwhile: they only see the other path, which
        // behaves the same for them.
        setenv(AtomicOutput.namedFallbackVariable, "1", 1)
        defer { unsetenv(AtomicOutput.namedFallbackVariable) }
        let dir = TempDir()
        defer { dir.cleanup() }
        let o = try AtomicOutput(path: dir.file("out.bin"))
        #expect(!o.isAnonymous)
        o.discard()
    }

    /// Existing paths that are not regular files are refused before any work, and a FIFO
    /// put at the output path while writing is not replaced by the commit either.
    @Test func specialOutputPathsAreRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        mkfifo(dir.file("fifo"), 0o644)
        mkdir(dir.file("folder"), 0o755)
        symlink("loop", dir.file("loop"))
        symlink("/dev/null", dir.file("null-link"))
        let sock = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(sock) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            for (i, b) in dir.file("socket").utf8.enumerated() where i < p.count - 1 { p[i] = b }
        }
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        let cases: [(String, String)] = [
            (dir.file("fifo"), "the output path is a FIFO, not a regular file: refusing to replace it"),
            ("/dev/null", "the output path is a character device, not a regular file: refusing to replace it"),
            (dir.file("null-link"), "the output path is a character device"),
            (dir.file("socket"), "the output path is a socket"),
            (dir.file("folder"), "the output path is a folder"),
            (dir.file("loop"), "cannot use the output path: Too many levels of symbolic links"),
            (dir.file("loop") + "/x", "the output folder \(dir.file("loop"))/ cannot be used: Too many levels of symbolic links"),
            (dir.file("fifo") + "/x", "cannot be used: Not a directory"),
        ]
        for (path, message) in cases {
            #expect(throws: (any Error).self) { try OutputTarget.check(path, notOverwriting: []) }
            do { try OutputTarget.check(path, notOverwriting: []) } catch {
                #expect(String(describing: error) == path + ": " + message || String(describing: error).contains(message), "\(error)")
            }
        }
        #expect(FileKind(mode: statMode("/dev/null")) == .characterDevice)

        for anonymous in [true, false] {
            let o = try AtomicOutput(path: dir.file("late"), allowAnonymous: anonymous)
            try fill(o, "data")
            mkfifo(dir.file("late"), 0o644)
            #expect(throws: OutputError.notARegularFile(path: dir.file("late"), kind: .fifo)) { try o.commit(sync: false) }
            o.discard()
            #expect(FileKind(mode: statMode(dir.file("late"))) == .fifo)
            unlink(dir.file("late"))
        }
        #expect(dir.entries == ["fifo", "folder", "loop", "null-link", "socket"])
        rmdir(dir.file("folder"))
    }

    func statMode(_ path: String) -> mode_t {
        var st = stat()
        return stat(path, &st) == 0 ? st.st_mode : 0
    }

    /// The process's umask, read without changing it (`umask(2)` would, for every thread).
    func currentUmask() -> mode_t {
        let status = String(decoding: readFile("/proc/self/status"), as: UTF8.self)
        let line = status.split(separator: "\n").first { $0.hasPrefix("Umask:") } ?? "Umask: 0022"
        return mode_t(line.split(separator: "\t").last.flatMap { UInt32($0.trimmingCharacters(in: .whitespaces), radix: 8) } ?? 0o022)
    }
}
