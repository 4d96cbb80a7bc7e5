#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LatteCore
import LatteMapper
import LatteReaders
import LatteRuntime

// The run path: `LatteRun.execute` (prefill, sampling with or without guidance, velocity
// evaluations) on the bundled tiny model (`FUZZ_RUN_MODEL`, default fixtures/models/tiny
// from the current folder), with the config's numbers, the step count, the guidance scale
// and the input sizes taken from the input (`RunDescription`). Errors are normal outcomes;
// a crash, a run within the work budget (below) past the time limit, or memory past the
// limit is a finding.
/// The model, read once. The config is kept as text and parsed per input: LeakSanitizer
/// does not recognize pointers inside a long-lived `JSONValue` (Swift stores enum tags in a
/// pointer's spare bits) and would report its boxes as leaked.
enum TinyModel {
    static let dir = getenv("FUZZ_RUN_MODEL").map { String(cString: $0) } ?? "fixtures/models/tiny"
    static let checkpoint = try? CheckpointReader.open(path: dir + "/model.safetensors")
    static let configFile = try? MappedFile(path: dir + "/config.json")
    /// `nonisolated(unsafe)`: a weight source is not Sendable (a `.latte` one swaps its group's
    /// bytes), and libFuzzer runs the inputs one at a time on one thread.
    nonisolated(unsafe) static let weights = checkpoint.map { DecodingWeightSource($0, releasesPagesAfterReading: false) }
}
guard let weights = TinyModel.weights, let configFile = TinyModel.configFile, (try? JSON.parse(configFile.bytes)) != nil else {
    print("FuzzRunPath: cannot read the model in \(TinyModel.dir) (set FUZZ_RUN_MODEL)")
    exit(2)
}

/// The work budget a plain `verify` gives a model's embedded run (`ReferenceCheck`), for the
/// weights really present: 10^10 operations for the tiny model, about 1.5 s here. A run past
/// it is work a user asks for on the command line (`latte run --steps 10000` on 30,000
/// tokens may take minutes), not an input that must finish in 10 s, so the harness skips it
/// (by `LatteRun.estimate`); a timeout then means a run within the budget took too long, or
/// the estimate is wrong.
let workBudget = ReferenceCheck.automaticWorkBudget(
    parameters: TinyModel.checkpoint?.tensors.reduce(0) { $0 + (elementCount(of: $1.shape) ?? 0) } ?? 0)

/// The harness's own allocations (token ids, noise, x_t) stay under this many elements
/// (8 MiB of ids): what the runtime allocates from the same numbers is what the limits watch.
let harnessLimit = 1 << 20

runFuzzer { bytes in
    let d = RunDescription(decoding: bytes)
    guard let baseConfig = try? JSON.parse(configFile.bytes), let config = try? ModelConfig(json: d.config(from: baseConfig)),
          let model = try? LatteModel(config: config, weights: weights) else { return }
    let vocab = config.vocabSize
    func ids(_ n: Int64, _ salt: Int) -> [Int] {
        (0 ..< Int(min(max(n, 0), Int64(harnessLimit)))).map { ($0 &* 31 &+ salt &+ Int(d.tokenSeed)) % vocab }
    }
    let latent = config.latentChannels.multipliedReportingOverflow(by: config.latentSize[0])
    let plane = latent.partialValue.multipliedReportingOverflow(by: config.latentSize[1])
    let per = latent.overflow || plane.overflow ? Int.max : plane.partialValue
    let n = Int(min(max(d.velocities, 0), 4096))
    var inputs = RunInputs(contextIDs: ids(d.contextLength, 0), uncondIDs: d.uncondLength > 0 ? ids(d.uncondLength, 7) : nil)
    if d.sample, per <= harnessLimit { inputs.noise = (0 ..< per).map { Float($0 % 17) / 17 - 0.5 } }
    if n > 0, per <= harnessLimit / n {
        inputs.xT = (0 ..< n * per).map { Float($0 % 13) / 13 - 0.5 }
        inputs.timesteps = (0 ..< n).map { Float($0) / Float(n) }
    }
    let steps = Int(clamping: d.steps), cfgScale = Float(d.cfgMilli) / 1000
    // `estimate` walks the steps (the groups they need): like `execute`, ask it only about
    // steps and guidance within the limits; past them `execute` refuses before any work.
    let withinLimits = (try? RuntimeLimits.checkSteps(steps, "steps")) != nil
        && (try? RuntimeLimits.checkGuidance(cfgScale, "the guidance scale")) != nil
    if withinLimits, LatteRun.estimate(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale).operations > workBudget { return }
    _ = try? LatteRun.execute(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale)
}
