import ArgumentParser
import LatteCore
import LatteRuntime

/// The `latte` root command: each subcommand lives in its own file.
@main
struct LatteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latte",
        abstract: "Convert, inspect and verify LaTtE-Flow checkpoints.",
        version: latteVersion,
        subcommands: [
            InspectCommand.self, MapCommand.self, ConvertCommand.self, ExportCommand.self,
            VerifyCommand.self, RunCommand.self,
        ]
    )

    static func main() {
        // `run` and `verify` do their matrix products in OpenBLAS: make sure its kernels fit the CPU.
        if ["run", "verify"].contains(CommandLine.arguments.dropFirst().first) {
            BLASTuning.reexecWithFittingKernelsIfNeeded()
        } else {
            // The other commands do no matrix work: OpenBLAS's spinning threads would only take a core.
            BLASTuning.stopIdleThreads()
        }
        main(nil)
    }
}

/// Runs a command body, turning thrown errors into the contract's one-line
/// `error: …` on stderr and exit code 1 (usage errors stay with ArgumentParser: 64).
func reportingErrors(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let e as ExitCode {
        throw e
    } catch {
        printError("error: \(String(describing: error))")
        throw ExitCode(1)
    }
}
