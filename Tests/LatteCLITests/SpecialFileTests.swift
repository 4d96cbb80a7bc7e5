import Foundation
import Testing
import LatteTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Only regular files are read, and only regular files are replaced: FIFOs (which would
/// block `open(2)` forever), device nodes, sockets, folders and symlink loops given to any
/// option of any command get one `error:` line saying what the path is, at once. These
/// cannot live in the committed corpus (git holds no FIFO or device), so they are made here.
@Suite(.serialized) struct SpecialFileTests {
    /// A temporary folder with a copy of the tiny model, its `.latte` file, a FIFO, a
    /// symlink loop, a socket and (as root) a private copy of the /dev/null device node.
    struct Setup {
        let dir: URL
        var path: String { dir.path }
        var model: String { path + "/tiny" }
        var latte: String { path + "/tiny.latte" }
        var fifo: String { path + "/fifo" }
        var loop: String { path + "/loop" }
        var socketPath: String { path + "/socket" }
        /// A character device of our own (mknod needs root), so that a regression replaces
        /// it rather than the system's /dev/null.
        var device: String? { FileManager.default.fileExists(atPath: path + "/null-device") ? path + "/null-device" : nil }
        let socketFD: Int32

        init() throws {
            dir = try CLI.tempDir()
            try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny"), toPath: dir.path + "/tiny")
            let converted = try CLI.run(["convert", dir.path + "/tiny", "-o", dir.path + "/tiny.latte", "--no-progress"])
            #expect(converted.status == 0, "\(converted.stderr)")
            #expect(mkfifo(dir.path + "/fifo", 0o644) == 0)
            #expect(symlink("loop", dir.path + "/loop") == 0)
            // makedev(1, 3): the numbers of /dev/null.
            if geteuid() == 0 { mknod(dir.path + "/null-device", S_IFCHR | 0o666, dev_t(1 << 8 | 3)) }
            socketFD = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let name = Array((dir.path + "/socket").utf8)
            withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in name.enumerated() where i < p.count - 1 { p[i] = b } }
            let bound = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(bound == 0)
        }

        func cleanup() {
            close(socketFD)
            try? FileManager.default.removeItem(at: dir)
        }

        var entries: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted() }

        func kind(_ p: String) -> mode_t {
            var st = stat()
            return lstat(p, &st) == 0 ? st.st_mode & S_IFMT : 0
        }
    }

    /// Runs `args` and checks: exit 1 within 10 s (no hang), one `error:` line holding `fragment`.
    func expectRefused(_ args: [String], _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let start = Date()
        let r = try CLI.run(args, timeout: 10)
        #expect(!r.timedOut, "\(args) hung", sourceLocation: sourceLocation)
        #expect(Date().timeIntervalSince(start) < 10, sourceLocation: sourceLocation)
        #expect(r.status == 1, "\(args): exit \(r.status), \(r.stderr)", sourceLocation: sourceLocation)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty && r.stderr.hasPrefix("error: ") && r.stderr.contains(fragment),
                "\(args): \(r.stderr)", sourceLocation: sourceLocation)
    }

    @Test func specialInputsAreRefusedAtOnceNamingWhatTheyAre() throws {
        let s = try Setup()
        defer { s.cleanup() }
        let isFIFO = "fifo: is a FIFO, not a regular file"
        let inputs = s.model + "/inputs.safetensors"
        // Every place a command reads a path the user gave.
        let cases: [([String], String)] = [
            (["inspect", s.fifo], isFIFO),
            (["inspect", s.fifo, "--json"], isFIFO),
            (["map", s.fifo], isFIFO),
            (["convert", s.fifo, "-o", s.path + "/x.latte", "--no-progress"], isFIFO),
            (["export", s.fifo, "-o", s.path + "/x.safetensors"], isFIFO),
            (["verify", s.fifo], isFIFO),
            (["verify", s.latte, "--source", s.fifo], isFIFO),
            (["run", s.fifo, "--inputs", inputs, "-o", s.path + "/o.safetensors", "--steps", "1"], isFIFO),
            (["run", s.latte, "--inputs", s.fifo, "-o", s.path + "/o.safetensors", "--steps", "1"], isFIFO),
            (["map", s.model, "--config", s.fifo], isFIFO),
            (["map", s.model, "--mapping", s.fifo], isFIFO),
            (["convert", s.model, "--config", s.fifo, "-o", s.path + "/x.latte", "--no-progress"], isFIFO),
            (["convert", s.model, "--mapping", s.fifo, "-o", s.path + "/x.latte", "--no-progress"], isFIFO),
            (["inspect", "/dev/zero"], "/dev/zero: is a character device, not a regular file"),
            (["inspect", "/dev/null"], "/dev/null: is a character device, not a regular file"),
            (["convert", s.model, "--config", "/dev/zero", "-o", s.path + "/x.latte", "--no-progress"], "/dev/zero: is a character device"),
            (["map", s.model, "--config", s.path], "is a directory, not a regular file"),
            (["inspect", s.socketPath], "socket: is a socket, not a regular file"),
            (["inspect", s.loop], "loop: cannot open: Too many levels of symbolic links"),
            (["run", s.latte, "--inputs", s.loop, "-o", s.path + "/o.safetensors", "--steps", "1"], "loop: cannot open: Too many levels of symbolic links"),
            (["inspect", s.path + "/absent"], "absent: cannot open: No such file or directory"),
        ]
        for (args, fragment) in cases { try expectRefused(args, fragment) }

        // A reference folder whose inputs are a FIFO, and an index naming a FIFO as a shard.
        let reference = s.path + "/reference"
        try FileManager.default.createDirectory(atPath: reference, withIntermediateDirectories: false)
        mkfifo(reference + "/inputs.safetensors", 0o644)
        try FileManager.default.copyItem(atPath: s.model + "/expected.safetensors", toPath: reference + "/expected.safetensors")
        try expectRefused(["convert", s.model, "--reference", reference, "-o", s.path + "/x.latte", "--no-progress"], "inputs.safetensors: is a FIFO")
        let sharded = s.path + "/sharded"
        try FileManager.default.createDirectory(atPath: sharded, withIntermediateDirectories: false)
        mkfifo(sharded + "/part-1.safetensors", 0o644)
        try #"{"weight_map": {"w": "part-1.safetensors"}}"#.write(toFile: sharded + "/model.safetensors.index.json", atomically: true, encoding: .utf8)
        try expectRefused(["inspect", sharded], "part-1.safetensors: is a FIFO, not a regular file")
        if let device = s.device { try expectRefused(["inspect", device], "null-device: is a character device") }
        #expect(!s.entries.contains("x.latte") && !s.entries.contains("o.safetensors") && !s.entries.contains("x.safetensors"))
    }

    @Test func specialOutputsAreRefusedAndLeftAsTheyWere() throws {
        let s = try Setup()
        defer { s.cleanup() }
        symlink(s.fifo, s.path + "/fifo-link")
        let before = s.entries
        var outputs: [(String, String)] = [
            (s.fifo, "the output path is a FIFO, not a regular file: refusing to replace it"),
            (s.path + "/fifo-link", "the output path is a FIFO"),
            (s.socketPath, "the output path is a socket"),
            (s.loop, "cannot use the output path: Too many levels of symbolic links"),
            (s.model, "the output path is a folder"),
            (s.fifo + "/x", "cannot be used: Not a directory"),
        ]
        if let device = s.device { outputs.append((device, "the output path is a character device, not a regular file")) }
        for (out, fragment) in outputs {
            try expectRefused(["convert", s.model, "-o", out, "--no-progress"], fragment)
            try expectRefused(["export", s.latte, "-o", out], fragment)
            try expectRefused(["run", s.latte, "--inputs", s.model + "/inputs.safetensors", "-o", out, "--steps", "1"], fragment)
        }
        #expect(s.entries == before, "nothing created, nothing replaced")
        #expect(s.kind(s.fifo) == S_IFIFO && s.kind(s.socketPath) == S_IFSOCK && s.kind(s.loop) == S_IFLNK)
        if let device = s.device { #expect(s.kind(device) == S_IFCHR) }
    }
}
