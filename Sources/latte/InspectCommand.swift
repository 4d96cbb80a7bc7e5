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

    @OptionGroup var base: BaseOption

    func run() throws {
        try reportingErrors {
            let opened = try ModelFile.open(path: path, base: try base.open())
            var report = switch opened {
            case let .latte(file): InspectReport(file)
            case let .checkpoint(checkpoint): InspectReport(checkpoint)
            }
            // With --base, every reference is checked against it (present, same dtype and
            // shape, same XXH64) before anything is printed.
            if case let .latte(file) = opened, file.base != nil {
                let checked = try file.checkBaseReferences()
                report.extra.append(("base_checked", .int(Int64(checked))))
            }
            if json {
                writeOut(report.json(includeTensors: !noTensors).serialized(pretty: true) + "\n")
            } else {
                writeText(report.table(includeTensors: !noTensors))
            }
        }
    }
}
