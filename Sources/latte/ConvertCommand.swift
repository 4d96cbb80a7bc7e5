import LatteSystem
import ArgumentParser
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders

struct ConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Write a checkpoint as a compact .latte file (see docs/FORMAT.md)."
    )

    @Argument(help: "A weights file, a sharded index, or a folder holding one.")
    var source: String

    @Option(name: .shortAndLong, help: "The .latte file to write.")
    var output: String

    @OptionGroup var plan: PlanOptions

    @Option(help: "A folder with inputs.safetensors and expected.safetensors (and run.json) to embed, so a plain `latte verify OUT.latte` re-checks the model anywhere.")
    var reference: String?

    @Option(help: "zstd level for non-float data and redundant planes (1-19).")
    var level: Int32 = 3

    @Option(help: "Compression threads (default: every core).")
    var threads: Int?

    @Flag(help: "No progress bar on stderr (there is none when stderr is not a terminal).")
    var noProgress = false

    @Option(help: "Raw bytes per chunk, a multiple of 8 (default 1048576).")
    var chunkSize: Int?

    @Option(help: "A base checkpoint (any checkpoint latte reads): tensors whose dtype, shape and bytes equal one of its tensors are stored as references to it, not as bytes.")
    var base: String?

    @Flag(help: "Code replica layers on their own, not as deltas against their model.layers twins.")
    var noTwinDelta = false

    @Flag(help: "fsync the file before renaming it into place (survives a power loss).")
    var sync = false

    func validate() throws {
        guard (1 ... 19).contains(level) else { throw ValidationError("--level must be between 1 and 19") }
        if let threads, threads < 1 || threads > 1024 { throw ValidationError("--threads must be between 1 and 1024") }
        if let chunkSize, chunkSize < 8 || chunkSize % 8 != 0 || chunkSize > LatteLayout.maxChunkSize {
            throw ValidationError("--chunk-size must be a multiple of 8 up to \(LatteLayout.maxChunkSize)")
        }
    }

    func run() throws {
        try reportingErrors {
            InterruptCleanup.install()
            let checkpoint = try CheckpointReader.open(path: source)
            // Read once: the plan is made from it and the manifest records it.
            let config = try (plan.config ?? checkpoint.configPath).map { try ConfigFile(path: $0) }
            var options = LatteWriteOptions()
            options.codec.level = level
            if let threads { options.threads = threads }
            options.config = config
            options.sync = sync
            options.twinDeltas = !noTwinDelta
            options.base = try base.map { try CheckpointReader.open(path: $0) }
            if let chunkSize { options.chunkSize = chunkSize }
            let bar = ProgressBar.forCommand(.bytes, disabled: noProgress)
            defer { bar?.erase() }
            options.progress = bar?.handler
            let sections = try MappedCheckpoint.sectionPlanForConversion(checkpoint, source: source, config: config,
                                                                          mappingPath: plan.mapping, allowExtra: plan.allowExtra)
            if let reference { options.embeddedFiles = try EmbeddedReference.files(inFolder: reference) }
            let summary = try LatteWriter.write(checkpoint, plan: sections, to: output, options: options)
            bar?.erase()
            let ratio = summary.rawBytes == 0 ? "-" : formatRatio(Double(summary.fileBytes) / Double(summary.rawBytes))
            printError("wrote \(output): \(summary.tensors) tensors, \(formatBytes(summary.rawBytes)) -> \(formatBytes(summary.fileBytes)) (ratio \(ratio))")
            if let base {
                printError("base \(base): \(summary.referencedTensors) tensors (\(formatBytes(summary.referencedBytes))) stored as references")
            }
        }
    }
}
