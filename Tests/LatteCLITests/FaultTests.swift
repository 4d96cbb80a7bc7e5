import Foundation
import Testing
import LatteCore
import LatteReaders

#if canImport(Glibc)
import Glibc
#endif

/// What happens to the writers (`convert`, `export`, `run`) when the machine is unkind:
/// killed mid-write, a full disk, a bad output path, a source changing underneath.
@Suite(.serialized) struct FaultTests {
    /// A safetensors file of `megabytes` MB of random BF16 (slow to compress, so a convert
    /// takes long enough to be killed mid-write).
    func randomCheckpoint(in dir: URL, megabytes: Int) throws -> String {
        let tensors = 8
        let per = megabytes * (1 << 20) / tensors / 2 * 2
        var entries: [String] = []
        for i in 0 ..< tensors {
            entries.append(#""w.\#(i)": {"dtype": "BF16", "shape": [\#(per / 2)], "data_offsets": [\#(i * per), \#((i + 1) * per)]}"#)
        }
        let header = Data(("{" + entries.joined(separator: ",") + "}").utf8)
        var file = withUnsafeBytes(of: UInt64(header.count).littleEndian) { Data($0) }
        file.append(header)
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        file.append(try random.read(upToCount: per * tensors)!)
        let path = dir.appendingPathComponent("big.safetensors").path
        try file.write(to: URL(fileURLWithPath: path))
        return path
    }

    func sha(_ path: String) throws -> String {
        SHA256.hex(SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func entries(_ dir: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    /// Runs `arguments` and SIGKILLs it after each delay; returns how often it was still running.
    func killRepeatedly(_ arguments: [String], after delays: [Double], output: String) throws -> Int {
        var killedWhileRunning = 0
        for delay in delays {
            let p = Process()
            p.executableURL = CLI.executable
            p.arguments = arguments
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delay * 1_000_000))
            if p.isRunning { killedWhileRunning += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal {
                #expect(!FileManager.default.fileExists(atPath: output), "\(arguments[0]) killed after \(delay) s: a file at the output path")
            }
        }
        return killedWhileRunning
    }

    @Test func killedMidWriteLeavesNoOutputAndARerunSucceeds() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try randomCheckpoint(in: dir, megabytes: 48)
        let out = dir.appendingPathComponent("out.latte").path
        let killed = try killRepeatedly(["convert", source, "-o", out, "--no-progress", "--threads", "2"],
                                        after: [0.05, 0.15, 0.3, 0.6], output: out)
        #expect(killed > 0, "convert always finished before the kill: the test proved nothing")
        let rerun = try CLI.run(["convert", source, "-o", out, "--no-progress"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(try CLI.run(["verify", out, "--source", source]).status == 0)

        // export: its decoding threads write the output by offset; a kill leaves no file either.
        let back = dir.appendingPathComponent("back.safetensors").path
        let killedExport = try killRepeatedly(["export", out, "-o", back, "--threads", "2"], after: [0, 0.01, 0.03, 0.08], output: back)
        #expect(killedExport > 0, "export always finished before the kill: the test proved nothing")
        #expect(try CLI.run(["export", out, "-o", back]).status == 0)
        // Same tensor bytes (the data section ends both files; the headers are spelled apart).
        let a = try Data(contentsOf: URL(fileURLWithPath: back)), b = try Data(contentsOf: URL(fileURLWithPath: source))
        #expect(a.suffix(48 << 20) == b.suffix(48 << 20))
    }

    /// Runs latte under a file-size limit of 1 MB (ulimit -f counts 1024-byte blocks), which
    /// stands in for a full disk; returns the exit status and standard error.
    func runUnderFileSizeLimit(_ arguments: [String]) throws -> (Int32, String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", "ulimit -f 1024 && exec \"$0\" \"$@\"", CLI.executable.path] + arguments
        let err = Pipe()
        p.standardError = err
        try p.run()
        let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        return (p.terminationStatus, message)
    }

    @Test func aFullDiskGivesAClearErrorAndNoPartialOutput() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try randomCheckpoint(in: dir, megabytes: 8)
        let out = dir.appendingPathComponent("out.latte").path
        let (status, message) = try runUnderFileSizeLimit(["convert", source, "-o", out, "--no-progress"])
        #expect(status == 1)
        #expect(message.hasPrefix("error: ") && message.contains("File too large"), "\(message)")
        #expect(entries(dir) == ["big.safetensors"], "no output and no temporary file")

        // export, whose threads write by offset: the first refused write fails the whole export.
        let latte = dir.appendingPathComponent("in.latte").path
        #expect(try CLI.run(["convert", source, "-o", latte, "--no-progress"]).status == 0)
        let back = dir.appendingPathComponent("back.safetensors").path
        let (exportStatus, exportMessage) = try runUnderFileSizeLimit(["export", latte, "-o", back, "--threads", "2"])
        #expect(exportStatus == 1)
        #expect(exportMessage.hasPrefix("error: ") && exportMessage.contains("File too large"), "\(exportMessage)")
        #expect(entries(dir) == ["big.safetensors", "in.latte"], "no output and no temporary file")
    }

    @Test func badOutputPathsAreRefusedBeforeAnyWork() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny")
        try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny"), toPath: model.path)
        let latte = dir.appendingPathComponent("tiny.latte").path
        #expect(try CLI.run(["convert", model.path, "-o", latte, "--no-progress"]).status == 0)
        let before = try sha(model.appendingPathComponent("model.safetensors").path)
        let cases: [([String], String)] = [
            (["convert", model.path, "-o", dir.path + "/missing/x.latte", "--no-progress"], "does not exist"),
            (["convert", model.path, "-o", model.appendingPathComponent("model.safetensors").path, "--no-progress"], "refusing to overwrite it"),
            (["convert", model.path, "-o", dir.path, "--no-progress"], "is a folder"),
            (["export", latte, "-o", latte], "refusing to overwrite it"),
            (["export", latte, "-o", dir.path + "/missing/x.safetensors"], "does not exist"),
            (["run", latte, "--inputs", model.path + "/inputs.safetensors", "-o", model.path + "/inputs.safetensors", "--steps", "2"], "refusing to overwrite it"),
        ]
        for (args, fragment) in cases {
            let r = try CLI.run(args)
            #expect(r.status == 1, "\(args)")
            #expect(r.stderr.hasPrefix("error: ") && r.stderr.contains(fragment), "\(args): \(r.stderr)")
        }
        #expect(try sha(model.appendingPathComponent("model.safetensors").path) == before)
        #expect(entries(dir) == ["tiny", "tiny.latte"])
    }

    @Test(.enabled(if: geteuid() != 0, "root writes to read-only folders; run as a user to check this"))
    func aReadOnlyFolderIsRefused() throws {
        let dir = try CLI.tempDir()
        defer { chmod(dir.path, 0o755); try? FileManager.default.removeItem(at: dir) }
        chmod(dir.path, 0o555)
        let r = try CLI.run(["convert", CLI.fixture("models/tiny"), "-o", dir.path + "/x.latte", "--no-progress"])
        #expect(r.status == 1 && r.stderr.contains("is not writable"))
    }

    @Test func aSourceTruncatedAfterOpenIsAnErrorNotGarbage() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("model.safetensors").path
        try FileManager.default.copyItem(atPath: CLI.fixture("models/tiny/model.safetensors"), toPath: path)
        let checkpoint = try CheckpointReader.open(path: path)
        truncate(path, 4096)
        let last = checkpoint.tensors.max { $0.storageOffset < $1.storageOffset }!
        #expect {
            _ = try checkpoint.bytes(of: last)
        } throws: { error in
            String(describing: error).contains("changed while being read")
        }
    }

    @Test func noCommandModifiesItsSource() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = "k2-bin"
        let files = try FileManager.default.contentsOfDirectory(atPath: CLI.fixture("models/" + model)).map { CLI.fixture("models/\(model)/" + $0) }
        let before = try files.map(sha)
        let latte = dir.appendingPathComponent("m.latte").path
        #expect(try CLI.run(["convert", CLI.fixture("models/" + model), "-o", latte, "--no-progress"]).status == 0)
        let latteBefore = try sha(latte)
        for args in [["inspect", latte], ["map", CLI.fixture("models/" + model)], ["verify", latte, "--source", CLI.fixture("models/" + model)],
                     ["export", latte, "-o", dir.path + "/m.safetensors"],
                     ["run", latte, "--inputs", CLI.fixture("models/k2/inputs.safetensors"), "-o", dir.path + "/o.safetensors", "--steps", "2"]] {
            #expect(try CLI.run(args).status == 0, "\(args)")
        }
        #expect(try files.map(sha) == before)
        #expect(try sha(latte) == latteBefore)
    }
}
