import LatteCore
import LatteMapper
import LatteReaders
import LatteSystem

/// The inputs of a run (spec "Run interface"), read from a safetensors file and checked
/// against the model's config.
public struct RunInputs: Sendable {
    /// `context_ids`, [T].
    public var contextIDs: [Int]
    /// `uncond_ids`, [T'], for guidance.
    public var uncondIDs: [Int]?
    /// `noise`, [C, h, w], for sampling.
    public var noise: [Float]?
    /// `x_t`, [n, C, h, w], and `timesteps`, [n], for single velocity evaluations.
    public var xT: [Float]?
    public var timesteps: [Float]?

    public init(contextIDs: [Int], uncondIDs: [Int]? = nil, noise: [Float]? = nil, xT: [Float]? = nil, timesteps: [Float]? = nil) {
        self.contextIDs = contextIDs
        self.uncondIDs = uncondIDs
        self.noise = noise
        self.xT = xT
        self.timesteps = timesteps
    }

    /// Reads and checks the inputs file. Errors name the file and the tensor.
    public static func load(path: String, config: ModelConfig) throws -> RunInputs {
        let file = try SafetensorsReader.open(path: path)
        do { return try load(file, config: config) } catch { throw LocatedError(path: path, error) }
    }

    /// Reads and checks inputs from an opened checkpoint (a file, or bytes in memory).
    /// Counts are checked against `RuntimeLimits` before anything is allocated for them.
    public static func load(_ file: Checkpoint, config: ModelConfig) throws -> RunInputs {
        let vocab = config.vocabSize
        let c = config.latentChannels, h = config.latentSize[0], w = config.latentSize[1]
        func ids(_ name: String) throws -> [Int]? {
            guard let e = file.tensor(named: name) else { return nil }
            guard e.shape.count == 1 else {
                throw RuntimeError.badInput(tensor: name, reason: "must be one-dimensional [T], found shape \(e.shape)")
            }
            let n = e.shape[0]
            try RuntimeLimits.checkContext(n, tensor: name)
            guard let width = e.dtype.byteWidth, e.dtype == .i64 || e.dtype == .i32 else {
                throw RuntimeError.unsupportedDType(tensor: name, dtype: e.dtype, allowed: [.i64, .i32])
            }
            let bytes = try file.bytes(of: e)
            guard bytes.count == n * width else { throw RuntimeError.wrongByteCount(tensor: name, expected: n * width, found: bytes.count) }
            var out = [Int](repeating: 0, count: n)
            try bytes.withUnsafeBytes { raw in
                for i in 0 ..< n {
                    let v: Int64
                    switch e.dtype {
                    case .i64: v = Int64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))
                    case .i32: v = Int64(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)))
                    default: throw RuntimeError.unsupportedDType(tensor: name, dtype: e.dtype, allowed: [.i64, .i32])
                    }
                    guard v >= 0 && v < Int64(vocab) else {
                        throw RuntimeError.tokenOutOfRange(tensor: name, position: i, id: v, vocabSize: vocab)
                    }
                    out[i] = Int(v)
                }
            }
            return out
        }
        func floats(_ name: String, shape check: ([Int]) -> [Int]?) throws -> [Float]? {
            guard let e = file.tensor(named: name) else { return nil }
            guard e.dtype == .f32 else { throw RuntimeError.unsupportedDType(tensor: name, dtype: e.dtype, allowed: [.f32]) }
            if let expected = check(e.shape) {
                throw RuntimeError.wrongShape(tensor: name, expected: expected, found: e.shape)
            }
            var out = [Float](repeating: 0, count: e.elementCount)
            let bytes = try file.bytes(of: e)
            try bytes.withUnsafeBytes { raw in
                try out.withUnsafeMutableBufferPointer { dst in
                    guard let base = dst.baseAddress else { return }
                    try FloatDecoding.decode(raw, dtype: .f32, count: e.elementCount, into: base, tensor: name)
                }
            }
            for (i, v) in out.enumerated() where !v.isFinite {
                throw RuntimeError.badInput(tensor: name, reason: "element \(i) is \(v), not a finite number")
            }
            return out
        }
        guard let context = try ids("context_ids") else { throw RuntimeError.missingInput("context_ids") }
        let uncond = try ids("uncond_ids")
        let noise = try floats("noise") { $0 == [c, h, w] ? nil : [c, h, w] }
        let hasXT = file.tensor(named: "x_t") != nil, hasTimesteps = file.tensor(named: "timesteps") != nil
        if hasXT && !hasTimesteps { throw RuntimeError.missingInput("timesteps") }
        if hasTimesteps && !hasXT { throw RuntimeError.missingInput("x_t") }
        if let first = file.tensor(named: "x_t")?.shape.first, first > RuntimeLimits.maxVelocityEvaluations {
            throw RuntimeError.badInput(tensor: "x_t", reason: "\(first) velocity evaluations, above the limit of \(RuntimeLimits.maxVelocityEvaluations)")
        }
        let xT = try floats("x_t") { s in s.count == 4 && Array(s.dropFirst()) == [c, h, w] ? nil : [s.first ?? 1, c, h, w] }
        let n = file.tensor(named: "x_t")?.shape.first ?? 0
        let ts = try floats("timesteps") { s in s == [n] ? nil : [n] }
        if let ts {
            for (i, t) in ts.enumerated() where !(t >= 0 && t <= 1) {
                throw RuntimeError.badInput(tensor: "timesteps", reason: "element \(i) is \(t), outside [0, 1]")
            }
        }
        return RunInputs(contextIDs: context, uncondIDs: uncond, noise: noise, xT: xT, timesteps: ts)
    }
}

extension LatteRun {
    /// The indices of `timesteps` with the group held first, then in group order (stable).
    static func evaluationOrder(_ timesteps: [Float], model: LatteModel) -> [Int] {
        let held = model.residentGroup
        func key(_ i: Int) -> (Int, Int) {
            let g = model.group(ofTimestep: Double(timesteps[i]))
            return (g == held ? -1 : g, i)
        }
        return timesteps.indices.sorted { key($0) < key($1) }
    }

    /// Refuses a run whose estimated peak is above the model's memory budget.
    static func checkMemory(_ cost: RunEstimate, model: LatteModel) throws(RuntimeError) {
        guard let peak = cost.peakBytes, peak <= model.memoryBudget else {
            throw .overMemoryBudget("the run needs about \(cost.memoryDescription),"
                + " above the memory budget of \(formatBytes(model.memoryBudget)) (set another with --memory-budget)")
        }
    }
}

/// How long a run took, for the CLI's summary.
public struct RunTimings: Sendable {
    public var prefillSeconds: Double = 0
    /// Part of the prefill spent reading the context model's weights.
    public var prefillReadSeconds: Double = 0
    public var contextsPrefilled: [Int] = []
    public var sampleSteps: Int = 0
    /// Wall time of each sampling step, including the first read of its group's weights.
    public var stepSeconds: [Double] = []
    /// Time spent reading and decoding replica groups (inside the steps' times).
    public var groupLoadSeconds: Double = 0
    /// Seconds the group reads took wherever they ran; of those, the background reads', and
    /// the time the sampler waited for them.
    public var groupReadSeconds: Double = 0
    public var prefetchReadSeconds: Double = 0
    public var prefetchWaitSeconds: Double = 0
    /// Whether the next group was read in the background (the budget held two).
    public var prefetched = false
    /// Source bytes of the replica groups and of the context layers read.
    public var groupReadBytes: Int = 0
    public var contextReadBytes: Int = 0
    /// Source bytes of the groups read on the sampler's thread, and the seconds that took.
    public var foregroundReadBytes: Int = 0
    public var foregroundReadSeconds: Double = 0
    /// The memory budget, the most the model's ledger held at once, one group's float32
    /// bytes, and the process's peak resident set (nil: unknown), for the summary.
    public var memoryBudget: Int = 0
    public var peakHeldBytes: Int = 0
    public var groupBytes: Int = 0
    public var peakResidentBytes: Int?
    public var velocityEvaluations: Int = 0
    public var velocitySeconds: Double = 0
    /// Replica layers per velocity pass, and passes per step (2 with guidance).
    public var layersPerPass: Int = 0
    public var passesPerStep: Int = 1
    public var groupsLoaded: [Int] = []

    /// The model's read and memory figures, at the end of a run.
    mutating func recordReads(of model: LatteModel) {
        groupsLoaded = model.loadedGroups
        groupReadBytes = model.groupReadBytes
        groupReadSeconds = model.groupReadSeconds
        prefetchReadSeconds = model.prefetchReadSeconds
        prefetchWaitSeconds = model.prefetchWaitSeconds
        prefetched = model.prefetches
        foregroundReadBytes = model.foregroundReadBytes
        foregroundReadSeconds = model.groupLoadSeconds - model.prefetchWaitSeconds
        contextReadBytes = model.contextReadBytes
        memoryBudget = model.memoryBudget
        peakHeldBytes = model.ledger.peak
        groupBytes = model.footprint.groupBytes
        peakResidentBytes = SystemInfo.peakResidentBytes
    }

    /// Mean step time with the group reads taken out.
    public var computeSecondsPerStep: Double {
        stepSeconds.isEmpty ? 0 : (stepSeconds.reduce(0, +) - groupLoadSeconds) / Double(stepSeconds.count)
    }

    public var summary: String {
        var lines: [String] = []
        lines.append("prefill: \(fmt(prefillSeconds)) s, of which reading context weights \(fmt(prefillReadSeconds)) s"
            + " (context lengths \(contextsPrefilled.map(String.init).joined(separator: ", ")))")
        if sampleSteps > 0 {
            let total = stepSeconds.reduce(0, +)
            lines.append("sampling: \(sampleSteps) steps in \(fmt(total)) s, \(fmt(computeSecondsPerStep)) s per step"
                + " (group reads excluded: \(fmt(groupLoadSeconds)) s), \(layersPerPass) layers x \(passesPerStep) pass(es) per step")
        }
        if velocityEvaluations > 0 {
            lines.append("velocity: \(velocityEvaluations) evaluations in \(fmt(velocitySeconds)) s, \(layersPerPass) layers each")
        }
        lines.append("groups loaded: \(groupsLoaded.map(String.init).joined(separator: ", "))")
        lines.append("weight reads: groups \(formatBytes(groupReadBytes)) in \(fmt(groupReadSeconds)) s (\(rate(groupReadBytes, groupReadSeconds))),"
            + " context layers \(formatBytes(contextReadBytes)) in \(fmt(prefillReadSeconds)) s (\(rate(contextReadBytes, prefillReadSeconds)))")
        lines.append("group reads on the sampler's thread: \(formatBytes(foregroundReadBytes)) in \(fmt(foregroundReadSeconds)) s"
            + " (\(rate(foregroundReadBytes, foregroundReadSeconds)))")
        if prefetchReadSeconds > 0 {
            let overlap = max(0, 1 - prefetchWaitSeconds / prefetchReadSeconds) * 100
            lines.append("prefetch: \(fmt(prefetchReadSeconds)) s of group reads in the background, the sampler waited \(fmt(prefetchWaitSeconds)) s"
                + " (overlap \(formatFixed(overlap, digits: 0)) %)")
        } else {
            lines.append("prefetch: " + (prefetched ? "none needed" : "off (the budget holds one group)"))
        }
        lines.append("memory: peak held \(formatBytes(peakHeldBytes)) of the budget \(formatBytes(memoryBudget))"
            + " (one group \(formatBytes(groupBytes)), \(prefetched ? "two while the next is read" : "one at a time")); process peak RSS "
            + (peakResidentBytes.map(formatBytes) ?? "unknown"))
        return lines.joined(separator: "\n")
    }

    /// Source bytes per second, as "1.23 GB per second" (no "/s": progress bars own that).
    private func rate(_ bytes: Int, _ seconds: Double) -> String {
        seconds > 0 ? formatFixed(Double(bytes) / seconds / 1e9, digits: 2) + " GB per second" : "-"
    }

    private func fmt(_ x: Double) -> String {
        let v = (x * 10000).rounded() / 10000
        return String(v)
    }
}

/// The spec's run interface on a model.
public enum LatteRun {
    /// Runs `inputs`: prefill, then `sample` (when `noise` is given) and `velocity` (when
    /// `x_t` is given); `context_hidden` always. Outputs in that order: sample, velocity,
    /// context_hidden. Guidance (cfgScale != 1) without `uncond_ids` is a usage error.
    /// `progress` counts sampling steps and velocity evaluations, once each.
    public static func execute(model: LatteModel, inputs: RunInputs, steps: Int = 40, cfgScale: Float = 1,
                               onStep: StepObserver? = nil,
                               progress: ProgressHandler? = nil) throws -> (outputs: [OutputTensor], timings: RunTimings) {
        let cfg = model.config
        try RuntimeLimits.checkSteps(steps, "steps")
        try RuntimeLimits.checkGuidance(cfgScale, "the guidance scale")
        let guided = cfgScale != 1 && inputs.noise != nil
        if cfgScale != 1 && inputs.uncondIDs == nil {
            throw RuntimeError.usage("--cfg-scale \(cfgScale) needs an unconditional context: add 'uncond_ids' to the inputs")
        }
        // The whole run against the memory budget, before any of it is allocated; the
        // estimate says whether the budget holds two groups (then sampling prefetches).
        let cost = estimate(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale)
        try checkMemory(cost, model: model)
        model.prefetches = cost.prefetches
        let velocityNeeded = inputs.noise != nil || inputs.xT != nil
        let maxT = max(inputs.contextIDs.count, guided ? inputs.uncondIDs?.count ?? 0 : 0)
        try model.reserve(positions: maxT + (velocityNeeded ? model.dims.tokens : 0))
        var timings = RunTimings()
        timings.layersPerPass = model.layersPerStep
        timings.passesPerStep = guided ? 2 : 1
        var contexts: [(name: String, ids: [Int])] = [("context_ids", inputs.contextIDs)]
        if guided, let u = inputs.uncondIDs { contexts.append(("uncond_ids", u)) }
        var t0 = monotonicSeconds()
        let readBefore = model.contextReadSeconds
        let states = try model.prefill(contexts)
        timings.prefillSeconds = monotonicSeconds() - t0
        timings.prefillReadSeconds = model.contextReadSeconds - readBefore
        timings.contextsPrefilled = states.map(\.length)
        if velocityNeeded { try model.reserve(positions: 0, stepContext: maxT) }
        var outputs: [OutputTensor] = []
        let c = cfg.latentChannels, h = cfg.latentSize[0], w = cfg.latentSize[1]
        let evaluations = (inputs.noise != nil ? steps : 0) + (inputs.xT != nil ? inputs.timesteps?.count ?? 0 : 0)
        var evaluated = 0
        if evaluations > 0 { progress?(0, evaluations) }
        if let noise = inputs.noise {
            let loadBefore = model.groupLoadSeconds
            var last = monotonicSeconds(), lastLoad = loadBefore
            let z = try model.sample(noise: noise, steps: steps, cfgScale: cfgScale, context: states[0],
                                     uncond: guided ? states[1] : nil) { i, t, g in
                let now = monotonicSeconds()
                timings.stepSeconds.append(now - last)
                onStep?(i, t, g, now - last, model.groupLoadSeconds - lastLoad)
                evaluated += 1
                progress?(evaluated, evaluations)
                last = now
                lastLoad = model.groupLoadSeconds
            }
            timings.sampleSteps = steps
            timings.groupLoadSeconds = model.groupLoadSeconds - loadBefore
            outputs.append(OutputTensor(name: "sample", shape: [c, h, w], values: z))
        }
        if let xT = inputs.xT, let ts = inputs.timesteps {
            t0 = monotonicSeconds()
            let per = c * h * w
            var v = [Float](repeating: 0, count: ts.count * per)
            // The held group's first, then in group order (stable), so that each group is read
            // once while one is held at a time; each velocity goes to its evaluation's place.
            for i in evaluationOrder(ts, model: model) {
                let out = try model.velocity(latent: Array(xT[i * per ..< (i + 1) * per]), t: Double(ts[i]), context: states[0])
                v.replaceSubrange(i * per ..< (i + 1) * per, with: out)
                evaluated += 1
                progress?(evaluated, evaluations)
            }
            timings.velocityEvaluations = ts.count
            timings.velocitySeconds = monotonicSeconds() - t0
            outputs.append(OutputTensor(name: "velocity", shape: [ts.count, c, h, w], values: v))
        }
        outputs.append(OutputTensor(name: "context_hidden", shape: [states[0].length, cfg.hiddenSize], values: states[0].hidden))
        timings.recordReads(of: model)
        return (outputs, timings)
    }
}

/// Comparison of an output with its reference: max |a - e| and that over max |e|.
public struct OutputComparison: Sendable, Equatable {
    public var maxAbsError: Double
    public var maxAbsExpected: Double
    /// max abs error / max abs value (of the expected tensor); the abs error when that is 0.
    public var relativeError: Double { maxAbsExpected > 0 ? maxAbsError / maxAbsExpected : maxAbsError }

    public init(actual: [Float], expected: [Float]) {
        precondition(actual.count == expected.count)
        var err = 0.0, mx = 0.0
        for (a, e) in zip(actual, expected) {
            let d = abs(Double(a) - Double(e))
            err = (d > err || d.isNaN) ? d : err
            mx = max(mx, abs(Double(e)))
        }
        maxAbsError = err
        maxAbsExpected = mx
    }

    public func passes(tolerance: Double) -> Bool { relativeError <= tolerance }
}
