import ArgumentParser
import LatteCore
import LatteReaders
import LatteFormat

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
            // A .latte file is recognized by its magic number before the checkpoint readers.
            let report = LatteFile.isLatte(path: path)
                ? InspectReport(try LatteFile(path: path))
                : InspectReport(try CheckpointReader.open(path: path))
            if json {
                writeOut(report.json(includeTensors: !noTensors).serialized(pretty: true) + "\n")
            } else {
                writeText(report.table(includeTensors: !noTensors))
            }
        }
    }
}
