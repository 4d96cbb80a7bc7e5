import ArgumentParser
import LatteCore
import LatteMapper

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show the timestep-expert plan (groups, layers, residual-attention gates) without writing anything."
    )

    @Argument(help: "A weights file, a sharded index, or a folder holding one (and usually config.json).")
    var source: String

    @Option(help: "The model config (default: config.json beside the weights).")
    var config: String?

    @Option(help: "A mapping file renaming another naming convention onto the spec's (schemas/mapping.schema.json).")
    var mapping: String?

    @Flag(help: "Keep tensors outside the model in an extra section instead of refusing the checkpoint.")
    var allowExtra = false

    @Flag(help: "Print the machine-readable plan (see docs/CLI.md).")
    var json = false

    func run() throws {
        try reportingErrors {
            let mapped = try MappedCheckpoint(source: source, configPath: config, mappingPath: mapping, allowExtra: allowExtra)
            if json {
                writeOut(mapped.plan.planJSON.serialized(pretty: true) + "\n")
            } else {
                writeOut("source: \(source) (\(mapped.checkpoint.format.rawValue), \(mapped.checkpoint.tensors.count) tensors)\n"
                    + "config: \(mapped.configPath)\n" + (mapping.map { "mapping: \($0)\n" } ?? "") + "\n"
                    + mapped.plan.table())
            }
        }
    }
}
