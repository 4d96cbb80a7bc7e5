import Foundation
import Testing

/// `--no-progress` and the terminal rule: progress bars go to stderr only when it is a
/// terminal. Here stderr is a pipe, so no command may print a frame, with or without the flag.
@Suite struct ProgressOptionTests {
    /// What a progress frame is made of: none of it belongs in a pipe.
    func expectNoProgressText(_ r: CLI.Result, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(r.status == 0, "\(what): \(r.stderr)", sourceLocation: sourceLocation)
        for text in ["\r", "\u{1B}", "ETA", "#####", "/s"] {
            #expect(!r.stderr.contains(text) && !r.stdout.contains(text), "\(what) printed \(text.debugDescription)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: [false, true])
    func longCommandsPrintNoProgressWhenStderrIsNotATerminal(_ noProgress: Bool) throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = CLI.fixture("models/tiny")
        let latte = dir.appendingPathComponent("tiny.latte").path
        let flag = noProgress ? ["--no-progress"] : []

        let convert = try CLI.run(["convert", model, "-o", latte, "--reference", model] + flag)
        expectNoProgressText(convert, "convert")
        #expect(convert.stderr.hasPrefix("wrote \(latte): 253 tensors"))
        #expect(convert.stderr.split(separator: "\n").count == 1)

        let export = try CLI.run(["export", latte, "-o", dir.appendingPathComponent("tiny.safetensors").path] + flag)
        expectNoProgressText(export, "export")
        #expect(export.stderr.isEmpty)

        // The embedded reference runs too: a bar for the checksums, one for the steps.
        let verify = try CLI.run(["verify", latte, "--source", model] + flag)
        expectNoProgressText(verify, "verify")
        #expect(verify.stdout.hasPrefix("ok: 253 tensors"))
        #expect(verify.stdout.contains("reference: \(latte) (embedded)"))
        #expect(verify.stderr.isEmpty)

        let run = try CLI.run(["run", latte, "--inputs", model + "/inputs.safetensors", "-o", dir.appendingPathComponent("out.safetensors").path,
                               "--steps", "3", "--verbose"] + flag)
        expectNoProgressText(run, "run")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.prefix(3).map { $0.hasPrefix("step ") } == [true, true, true], "\(run.stderr)")
        #expect(lines.contains { $0.hasPrefix("sampling: 3 steps in ") })
    }

    /// Every long command documents the flag; the others do not take it.
    @Test func theFlagBelongsToTheLongCommands() throws {
        for command in ["convert", "export", "verify", "run"] {
            let help = try CLI.run([command, "--help"])
            #expect(help.status == 0)
            #expect(help.stdout.contains("--no-progress"), "\(command) --help")
        }
        for command in ["inspect", "map"] {
            #expect(try CLI.run([command, CLI.fixture("models/k2"), "--no-progress"]).status == 64, "\(command)")
        }
    }
}
