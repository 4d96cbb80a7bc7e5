import Foundation
import Testing
import LatteCore
import LatteReaders
import LatteTestSupport

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
        let random = try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom"))
        let path = dir.appendingPathComponent("big.safetensors").path
        writeSafetensors(path, try (0 ..< tensors).map { i in
            SyntheticTensor(name: "w.\(i)", dtype: .bf16, shape: [per / 2], bytes: Array(try random.read(upToCount: per)!))
        })
        return path
    }

    func sha(_ path: String) throws -> String {
        SHA256.hex(SHA256.hash(try Data(contentsOf: URL(fileURLWithPath: path))))
    }

    func entries(_ dir: URL) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted() }

    /// What `killRepeatedly` saw.
    struct Kills {
        /// Kills that landed while the command was still running.
        var whileRunning = 0
        /// Names found in the folder after a kill besides the allowed ones (each is removed).
        var leftovers: [String] = []
    }

    /// Runs `arguments` and SIGKILLs it after each delay. After every kill the folder must
    /// hold only `allowed` names, and an output at `output` must be complete (`complete`).
    func killRepeatedly(_ arguments: [String], after delays: [Double], output: String, in dir: URL, allowed: Set<String>,
                        environment: [String: String] = [:], complete: (String) throws -> Bool) throws -> Kills {
        var kills = Kills()
        for delay in delays {
            let p = Process()
            p.executableURL = CLI.executable
            p.arguments = arguments
            if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delay * 1_000_000))
            if p.isRunning { kills.whileRunning += 1 }
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            for name in entries(dir) where !allowed.contains(name) {
                kills.leftovers.append(name)
                unlink(dir.appendingPathComponent(name).path)
            }
            if FileManager.default.fileExists(atPath: output) {
                #expect(try complete(output), "\(arguments[0]) killed after \(delay) s: an incomplete file at the output path")
            }
        }
        return kills
    }

    /// SIGKILL at any moment of a convert or an export of a 48 MB checkpoint: the folder then
    /// holds nothing but complete outputs (no `OUT.tmp-*`: the output is an `O_TMPFILE` file,
    /// which has no name until it is complete), whether the output is new or replaced.
    @Test func killedMidWriteLeavesNothingButCompleteOutputs() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = try randomCheckpoint(in: dir, megabytes: 48)
        let out = dir.appendingPathComponent("out.latte").path
        let verifies = { (path: String) in try CLI.run(["verify", path]).status == 0 }
        let convert = ["convert", source, "-o", out, "--no-progress", "--threads", "2"]
        let delays = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.45, 0.6, 0.9]
        let fresh = try killRepeatedly(convert, after: delays, output: out, in: dir, allowed: ["big.safetensors", "out.latte"], complete: { path in
            // A kill that came after the commit leaves a complete file; the next run starts afresh.
            let ok = try verifies(path)
            unlink(path)
            return ok
        })
        #expect(fresh.whileRunning > 0, "convert always finished before the kill: the test proved nothing")
        #expect(fresh.leftovers.isEmpty, "left behind: \(fresh.leftovers)")

        // Replacing an existing output: after every kill it is the old file or the new one, whole.
        let rerun = try CLI.run(["convert", source, "-o", out, "--no-progress"])
        #expect(rerun.status == 0, "\(rerun.stderr)")
        let replacing = try killRepeatedly(convert, after: delays, output: out, in: dir, allowed: ["big.safetensors", "out.latte"], complete: verifies)
        #expect(replacing.whileRunning > 0)
        // The one named instant is between linkat and rename (microseconds): a kill landing
        // there would leave `out.latte.tmp-*`; at these delays the odds are about 1 in 10^4 a run.
        #expect(replacing.leftovers.isEmpty, "left behind: \(replacing.leftovers)")
        #expect(try CLI.run(["verify", out, "--source", source]).status == 0)

        // export: its decoding threads write the output by offset; a kill leaves nothing either.
        let back = dir.appendingPathComponent("back.safetensors").path
        let sameTensors = { (path: String) in
            // Same tensor bytes (the data section ends both files; the headers are spelled apart).
            let a = try Data(contentsOf: URL(fileURLWithPath: path)), b = try Data(contentsOf: URL(fileURLWithPath: source))
            return a.count > 48 << 20 && a.suffix(48 << 20) == b.suffix(48 << 20)
        }
        let export = ["export", out, "-o", back, "--threads", "2"]
        let exportDelays = [0, 0.01, 0.02, 0.03, 0.05, 0.08, 0.12]
        let allowed: Set<String> = ["big.safetensors", "out.latte", "back.safetensors"]
        let exported = try killRepeatedly(export, after: exportDelays, output: back, in: dir, allowed: allowed,
                                          complete: { path in let ok = try sameTensors(path); unlink(path); return ok })
        #expect(exported.whileRunning > 0, "export always finished before the kill: the test proved nothing")
        #expect(exported.leftovers.isEmpty, "left behind: \(exported.leftovers)")
        #expect(try CLI.run(["export", out, "-o", back]).status == 0)
        #expect(try sameTensors(back))
        let reexported = try killRepeatedly(export, after: exportDelays, output: back, in: dir, allowed: allowed, complete: sameTensors)
        #expect(reexported.leftovers.isEmpty, "left behind: \(reexported.leftovers)")
    }

    /// The named fallback (for filesystems without `O_TMPFILE`, forced here by the test-only
    /// variable) writes the same bytes and removes its temporary file on the signals it can
    /// catch; a SIGKILL leaves it, which also shows that the check above sees leftovers.
    @Test func theNamedFallbackWritesTheSameFilesAndLeavesNothingItCanRemove() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        // AtomicOutput.namedFallbackVariable (this target does not link LatteFormat).
        let named = ["LATTE_TEST_NAMED_TEMPORARY": "1"]
        let source = try randomCheckpoint(in: dir, megabytes: 48)
        let path = { (name: String) in dir.appendingPathComponent(name).path }
        #expect(try CLI.run(["convert", source, "-o", path("a.latte"), "--no-progress", "--threads", "2"]).status == 0)
        #expect(try CLI.run(["convert", source, "-o", path("b.latte"), "--no-progress", "--threads", "2"], environment: named).status == 0)
        // The provenance records no output path, so the two files are byte for byte the same.
        #expect(try sha(path("a.latte")) == sha(path("b.latte")))
        #expect(try CLI.run(["export", path("a.latte"), "-o", path("a.safetensors"), "--threads", "2"]).status == 0)
        #expect(try CLI.run(["export", path("b.latte"), "-o", path("b.safetensors"), "--threads", "2"], environment: named).status == 0)
        #expect(try sha(path("a.safetensors")) == sha(path("b.safetensors")))
        let written = entries(dir)
        #expect(written == ["a.latte", "a.safetensors", "b.latte", "b.safetensors", "big.safetensors"])

        let convert = ["convert", source, "-o", path("c.latte"), "--no-progress", "--threads", "2"]
        // SIGTERM mid-write: the handler removes the named temporary file.
        for delay in [0.1, 0.25] {
            let p = Process()
            p.executableURL = CLI.executable
            p.arguments = convert
            p.environment = ProcessInfo.processInfo.environment.merging(named) { $1 }
            p.standardError = FileHandle.nullDevice
            try p.run()
            usleep(useconds_t(delay * 1_000_000))
            kill(p.processIdentifier, SIGTERM)
            p.waitUntilExit()
            #expect(!entries(dir).contains { $0.hasPrefix("c.latte.tmp-") }, "SIGTERM after \(delay) s left a temporary file")
            unlink(path("c.latte"))
        }

        // SIGKILL mid-write cannot be caught: only this fallback leaves its temporary file.
        let kills = try killRepeatedly(convert, after: [0.15, 0.3], output: path("c.latte"), in: dir, allowed: Set(written),
                                       environment: named, complete: { _ in true })
        #expect(kills.whileRunning == 0 || kills.leftovers.contains { $0.hasPrefix("c.latte.tmp-") },
                "a kill mid-write of the named fallback leaves its temporary file, and the check sees it")
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
