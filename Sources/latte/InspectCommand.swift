import ArgumentParser
import LatteCore
import LatteFormat
import LatteRuntime

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe a checkpoint (safetensors, PyTorch, sharded, .pt2) or a .latte file."
    )

    @Argument(help: "A weights file, a sharded index, or a folder holding one.")
    var path: String

    @Flag(help: "Print the machine-readable description (see docs/CLI.md).")
    var json = false

    @Flag(help: "Leave out the per-tensor list.")
    var noTensors = false

    func run() throws {
        try reportingErrors {
            let report = switch try ModelFile.open(path: path) {
            case let .latte(file): InspectReport(file)
            case let .checkpoint(checkpoint): InspectReport(checkpoint)
            }
            if json {
                writeOut(report.json(includeTensors: !noTensors).serialized(pretty: true) + "\n")
            } else {
                writeText(report.table(includeTensors: !noTensors))
            }
        }
    }
}
