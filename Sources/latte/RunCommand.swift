import ArgumentParser
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
import LatteRuntime

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a LaTtE-Flow model on inputs: context prefill, Euler sampling, velocities.",
        discussion: """
        INPUTS is a safetensors file with `context_ids` (I64 or I32 [T]) and any of `noise` \
        (F32 [C,h,w]), `uncond_ids` ([T']), `x_t` (F32 [n,C,h,w]) with `timesteps` (F32 [n]). \
        OUT receives `sample`, `velocity` and `context_hidden` (F32). A timing summary goes to stderr.
        """
    )

    @Argument(help: "The model: a .latte file, or a checkpoint (file or folder) with config.json beside it.")
    var model: String

    @Option(name: .long, help: "The inputs safetensors file.")
    var inputs: String

    @Option(name: .shortAndLong, help: "Where to write the outputs (safetensors).")
    var output: String

    @Option(help: "Euler sampling steps.")
    var steps: Int = 40

    @Option(help: "Classifier-free guidance scale (needs uncond_ids when not 1).")
    var cfgScale: Float = 1

    @Flag(help: "Print each sampling step's time and group on stderr.")
    var verbose = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
        guard cfgScale.isFinite else { throw ValidationError("--cfg-scale must be a finite number") }
    }

    func run() throws {
        try reportingErrors {
            let loaded = try ModelLoader.open(path: model)
            // Refused before any work: a missing folder, or an output over one of the inputs.
            try OutputTarget.check(output, notOverwriting: loaded.files + [inputs])
            let config = loaded.config
            let runInputs = try RunInputs.load(path: inputs, config: config)
            if cfgScale != 1 && runInputs.uncondIDs == nil {
                printError("error: \(inputs): --cfg-scale \(cfgScale) needs an unconditional context: add 'uncond_ids' to the inputs")
                throw ExitCode(64)
            }
            let weightsPath = loaded.path
            let latte: LatteModel
            do { latte = try LatteModel(config: config, weights: loaded.weights) } catch let e as RuntimeError {
                throw LocatedError(path: weightsPath, e)
            }
            let result: (outputs: [OutputTensor], timings: RunTimings)
            do {
                result = try LatteRun.execute(model: latte, inputs: runInputs, steps: steps, cfgScale: cfgScale) { i, t, g, secs, read in
                    if verbose { printError("step \(i) t=\(t) group \(g): \(secs) s (group read \(read) s)") }
                }
            } catch let e as RuntimeError {
                if case .usage = e {
                    printError("error: \(e)")
                    throw ExitCode(64)
                }
                if case .tokenOutOfRange = e { throw LocatedError(path: inputs, e) }
                throw LocatedError(path: weightsPath, e)
            }
            try OutputWriter.write(result.outputs, to: output, notOverwriting: loaded.files + [inputs])
            for line in result.timings.summary.split(separator: "\n") { printError(String(line)) }
            printError("blas: OpenBLAS \(BLASTuning.coreName) kernels, \(BLASTuning.threads) threads")
        }
    }
}
