import ArgumentParser
import LatteCore
import LatteMapper
import LatteReaders

struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Show the timestep-expert plan (groups, layers, residual-attention gates) without writing anything."
    )

    @Argument(help: "A weights file, a sharded index, or a folder holding one (and usually config.json).")
    var source: String

    @OptionGroup var plan: PlanOptions

    @Flag(help: "Print the machine-readable plan (see docs/CLI.md).")
    var json = false

    func run() throws {
        try reportingErrors {
            let mapped = try MappedCheckpoint(checkpoint: CheckpointReader.open(path: source), source: source,
                                              configPath: plan.config, mappingPath: plan.mapping, allowExtra: plan.allowExtra)
            if json {
                writeOut(mapped.plan.planJSON.serialized(pretty: true) + "\n")
            } else {
                writeText("source: \(source) (\(mapped.checkpoint.format.rawValue), \(mapped.checkpoint.tensors.count) tensors)\n"
                    + "config: \(mapped.configPath)\n" + (plan.mapping.map { "mapping: \($0)\n" } ?? "") + "\n"
                    + mapped.plan.table())
            }
        }
    }
}
