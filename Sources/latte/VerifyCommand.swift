import ArgumentParser
import LatteCore
import LatteFormat
import LatteReaders

struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every tensor's checksum in a .latte file, and optionally its bytes against the source."
    )

    @Argument(help: "The .latte file.")
    var input: String

    @Option(help: "The original checkpoint: every tensor must equal it byte for byte.")
    var source: String?

    @Flag(help: "Print the machine-readable report.")
    var json = false

    func run() throws {
        try reportingErrors {
            let latte = try LatteFile(path: input)
            let checkpoint = try source.map { try CheckpointReader.open(path: $0) }
            let report = LatteVerifier.verify(latte, source: checkpoint)
            if json {
                writeOut(report.json.serialized(pretty: true) + "\n")
            } else if report.ok {
                writeOut("ok: \(report.tensors) tensors, \(formatBytes(report.bytes)) verified\(source == nil ? "" : " against \(source!)")\n")
            }
            for f in report.failures { printError("error: \(f.message)") }
            if !report.ok { throw ExitCode(1) }
        }
    }
}
