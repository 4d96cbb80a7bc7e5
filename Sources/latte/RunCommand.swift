import ArgumentParser
import LatteFormat
import LatteRuntime

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a LaTtE-Flow model on inputs: context prefill, Euler sampling, velocities.",
        discussion: """
        INPUTS is a safetensors file with `context_ids` (I64 or I32 [T]) and any of `noise` \
        (F32 [C,h,w]), `uncond_ids` ([T']), `x_t` (F32 [n,C,h,w]) with `timesteps` (F32 [n]). \
        OUT receives `sample`, `velocity` and `context_hidden` (F32). A timing summary goes to stderr. \
        Limits: 32768 tokens per context, 16384 image tokens, 10000 steps, |cfg-scale| <= 100, \
        1024 velocity evaluations; the run's memory is estimated first and refused past the budget \
        (default: twice the model's float32 weights plus 512 MiB, at most 3/4 of the machine's memory).
        """
    )

    @Argument(help: "The model: a .latte file, or a checkpoint (file or folder) with config.json beside it.")
    var model: String

    @Option(name: .long, help: "The inputs safetensors file.")
    var inputs: String

    @Option(name: .shortAndLong, help: "Where to write the outputs (safetensors).")
    var output: String

    @Option(help: "Euler sampling steps (1 to 10000).")
    var steps: Int = 40

    @Option(help: "Classifier-free guidance scale, -100 to 100 (needs uncond_ids when not 1).")
    var cfgScale: Float = 1

    @Option(name: [.customLong("memory-budget"), .customLong("max-memory")],
            help: "Memory the run may use, e.g. 8G or 512M (default: twice the model's float32 weights plus 512 MiB, at most 3/4 of memory); the next group is prefetched when two fit.")
    var memoryBudget: String?

    @Flag(help: "Print each sampling step's time and group on stderr.")
    var verbose = false

    @OptionGroup var base: BaseOption

    @Flag(help: "No progress bar on stderr (there is none when stderr is not a terminal).")
    var noProgress = false

    func run() throws {
        let budget = try usageChecked {
            try RuntimeLimits.checkSteps(steps, "--steps")
            try RuntimeLimits.checkGuidance(cfgScale, "--cfg-scale")
            return try parseMemoryBudget(memoryBudget)
        }
        try reportingErrors {
            let loaded = try ModelLoader.open(path: model, base: try base.open())
            try loaded.latteFile?.requireBaseIfReferenced()
            // Refused before any work: a missing folder, or an output over one of the inputs.
            try OutputTarget.check(output, notOverwriting: loaded.files + [inputs])
            // Errors come located at the file they concern; a usage error exits 64.
            let bar = ProgressBar.forCommand(.steps, disabled: noProgress)
            defer { bar?.erase() }
            let result = try usageChecked {
                try LatteRun.run(loaded, inputsPath: inputs, steps: steps, cfgScale: cfgScale, memoryBudget: budget,
                                 onStep: { i, t, g, secs, read in
                                     guard verbose else { return }
                                     bar?.erase()
                                     printError("step \(i) t=\(t) group \(g): \(secs) s (group read \(read) s)")
                                 }, progress: bar?.handler)
            }
            bar?.erase()
            try OutputWriter.write(result.outputs, to: output, notOverwriting: loaded.files + [inputs])
            for line in result.timings.summary.split(separator: "\n") { printError(String(line)) }
            printError("blas: OpenBLAS \(BLASTuning.coreName) kernels, \(BLASTuning.threads) threads")
        }
    }
}

/// Runs checks of command-line values: a `RuntimeError` becomes one `error:` line and the
/// usage exit code, 64.
func usageChecked<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let e as RuntimeError {
        printError("error: \(e)")
        throw ExitCode(64)
    }
}

/// `--memory-budget SIZE` in bytes, nil when not given.
func parseMemoryBudget(_ text: String?) throws(RuntimeError) -> Int? {
    guard let text else { return nil }
    guard let bytes = MemoryBudget.parse(text) else {
        throw .usage("--memory-budget '\(text)' is not a size: give bytes, or a number with K, M, G or T (e.g. 512M, 8G)")
    }
    return bytes
}
