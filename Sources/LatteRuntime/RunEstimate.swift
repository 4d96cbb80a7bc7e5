import LatteCore
import LatteMapper

/// The float32 sizes of a model's weights, from shapes already checked against the weight
/// source (so from bytes really present), in checked arithmetic.
struct ModelFootprint: Sendable {
    /// Every tensor the runtime reads, as float32: the model's size.
    let weightBytes: Int
    /// Their elements.
    let parameters: Int
    /// The shared generation tensors, held for the model's life.
    let sharedBytes: Int
    /// One context layer's buffers, held during a prefill.
    let layerBytes: Int
    /// One replica group's buffers (M layers), held while its steps run (one group at a time).
    let groupBytes: Int

    init(_ d: Dims) throws(RuntimeError) {
        func elements(_ tensors: [(String, [Int])]) -> Int? { Checked.sum(tensors.map { elementCount(of: $0.1) }) }
        let decoder: [Int?] = [d.d, Checked.product(d.qkvDim, d.d), d.qkvDim, Checked.product(d.d, d.qDim), d.d,
                               Checked.product(2, d.f, d.d), Checked.product(d.d, d.f)]
        let replica = decoder + [d.d, d.d, Checked.product(4, d.d, d.d), Checked.product(4, d.d), Checked.product(d.heads, d.d), d.heads]
        let all = elements(Names.all(d))
        guard let all, let weights = Checked.floats(all),
              let shared = bufferBytes(Names.shared(d).map { elementCount(of: $0.1) }),
              let layer = bufferBytes(decoder),
              let one = bufferBytes(replica), let group = Checked.product(one, d.layersPerGroup) else {
            throw .overMemoryBudget("the model's weights would need more memory than 64-bit sizes can count")
        }
        weightBytes = weights
        parameters = all
        sharedBytes = shared
        layerBytes = layer
        groupBytes = group
    }
}

/// Bytes the ledger reserves for float buffers of these element counts (a buffer of 0
/// elements takes one), nil on overflow.
func bufferBytes(_ counts: [Int?]) -> Int? {
    Checked.sum(counts.map { c in c.flatMap { Checked.floats(max($0, 1)) } })
}

/// The largest of `sizes` (0 when empty), nil when one is nil.
func largest(_ sizes: [Int?]) -> Int? {
    var m = 0
    for s in sizes {
        guard let s else { return nil }
        m = max(m, s)
    }
    return m
}

/// What a run will cost, computed before it starts from the model's checked shapes and the
/// inputs: the peak memory it will hold (an upper bound of what its ledger and its arrays
/// reach) and the arithmetic it will do.
public struct RunEstimate: Sendable {
    /// Peak bytes; nil when the sizes overflow 64-bit arithmetic.
    public var peakBytes: Int?
    /// The part of the peak held in the model's float buffers (what its `ledger` counts):
    /// the peak without the inputs, outputs and the weight source's copies.
    public var modelBytes: Int?
    /// The parts of the peak, largest first: (what, bytes).
    public var parts: [(what: String, bytes: Int)]
    /// Floating-point operations (a multiply-add counts two; a softmax element eight),
    /// estimated from steps × tokens × layers × widths. A double: it is an estimate, and it
    /// cannot trap.
    public var operations: Double
    /// Steps, passes per step, velocity evaluations, image tokens and context lengths, for messages.
    public var shape: String
    /// Whether the run reads the next group in the background (two groups held then).
    public var prefetches = false

    /// "4.30 GiB (residual-attention maps 4.00 GiB, step workspace 288.1 MiB, ...)".
    public var memoryDescription: String {
        let total = peakBytes.map(formatBytes) ?? "more than 64-bit sizes can count"
        let top = parts.prefix(3).map { "\($0.what) \(formatBytes($0.bytes))" }.joined(separator: ", ")
        return top.isEmpty ? total : "\(total) (\(top))"
    }

    /// What a layer pass or a step's conditioning costs whatever its size (a dozen sgemm
    /// calls and loops: ~10 µs here), counted as operations so that a deep model of tiny
    /// layers is not estimated as free: 10^5, at the ~10^10 operations per second measured
    /// on the least efficient shapes.
    static let fixedOperationsPerCall = 1e5

    /// Operation counts as "1.23e+13".
    public static func formatOperations(_ x: Double) -> String {
        guard x.isFinite else { return "\(x)" }
        var e = 0, m = x
        while m >= 10 { m /= 10; e += 1 }
        return formatFixed(m, digits: 2) + "e+" + (e < 10 ? "0" : "") + String(e)
    }
}

extension LatteRun {
    /// The cost of `execute(model:inputs:steps:cfgScale:)` with these arguments, without
    /// running anything. The phases mirror the run: the prefill holds the shared weights,
    /// the context states, one context layer and the prefill workspace; the steps hold the
    /// shared weights, one replica group (the model holds one at a time), the context
    /// states, the step workspace and the sampler's buffers. Inputs and outputs (twice: arrays, then the
    /// serialized file) come on top of the larger phase.
    ///
    /// A sampling run that reads more than one group prefetches (holds two groups at the
    /// switch) when that fits the model's budget: the estimate is then that of two groups,
    /// with `prefetches` set; otherwise that of one.
    public static func estimate(model: LatteModel, inputs: RunInputs, steps: Int = 40, cfgScale: Float = 1) -> RunEstimate {
        let two = estimate(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale, groupsHeld: 2)
        if two.prefetches, let peak = two.peakBytes, peak <= model.memoryBudget { return two }
        return estimate(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale, groupsHeld: 1)
    }

    /// The estimate with up to `groupsHeld` replica groups held at once.
    static func estimate(model: LatteModel, inputs: RunInputs, steps: Int, cfgScale: Float, groupsHeld: Int) -> RunEstimate {
        var run = RunShape(model: model, inputs: inputs, steps: steps, cfgScale: cfgScale)
        run.groupsHeld = run.sampling ? min(groupsHeld, run.groups.count) : 1
        let contextStates = run.contextStateBytes
        var prefill = run.prefillPhase(contextStates: contextStates)
        var stepPhase = run.velocity ? run.stepPhase(contextStates: contextStates) : []
        let io: (String, Int?) = ("inputs and outputs", run.inputOutputBytes)
        let notInLedger: Set<String> = [io.0, RunShape.sourceCopies]
        func held(_ phase: [(String, Int?)]) -> Int? { Checked.sum(phase.filter { !notInLedger.contains($0.0) }.map(\.1)) }
        let modelBytes: Int? = if let a = held(prefill), let b = run.velocity ? held(stepPhase) : 0 { max(a, b) } else { nil }
        prefill.append(io)
        if run.velocity { stepPhase.append(io) }
        let prefillTotal = Checked.sum(prefill.map(\.1)), stepTotal = Checked.sum(stepPhase.map(\.1))
        let peakPhase: [(String, Int?)]
        let peak: Int?
        if let a = prefillTotal, let b = run.velocity ? stepTotal : 0 {
            peak = max(a, b)
            peakPhase = a >= b ? prefill : stepPhase
        } else {
            peak = nil
            peakPhase = prefillTotal == nil ? prefill : stepPhase
        }
        let parts = peakPhase.map { ($0.0, $0.1 ?? Int.max) }.sorted { $0.1 > $1.1 }
        return RunEstimate(peakBytes: peak, modelBytes: modelBytes, parts: parts, operations: run.operations, shape: run.description,
                           prefetches: run.groupsHeld > 1)
    }
}

/// What a run reads and holds, from the model and the inputs: the phases `estimate` sizes.
private struct RunShape {
    static let sourceCopies = "decoded copies in the weight source"

    let model: LatteModel
    let inputs: RunInputs
    let steps: Int
    let d: Dims
    let guided: Bool
    /// The context lengths prefilled: the prompt's, and the unconditional one's when guided.
    let contexts: [Int]
    let maxT: Int
    let sampling: Bool
    let evaluations: [Float]
    let velocity: Bool
    /// Groups the run reads: those of the sampler's t = i/S and of the given timesteps.
    let groups: Set<Int>
    /// Replica groups held at once: 1, or 2 while sampling prefetches the next.
    var groupsHeld = 1

    init(model: LatteModel, inputs: RunInputs, steps: Int, cfgScale: Float) {
        self.model = model
        self.inputs = inputs
        self.steps = steps
        d = model.dims
        guided = cfgScale != 1 && inputs.noise != nil
        var contexts = [inputs.contextIDs.count]
        if guided, let u = inputs.uncondIDs { contexts.append(u.count) }
        self.contexts = contexts
        maxT = contexts.max() ?? 0
        sampling = inputs.noise != nil
        evaluations = inputs.timesteps ?? []
        velocity = sampling || !evaluations.isEmpty
        var groups = Set<Int>()
        if sampling { for i in 0 ..< max(steps, 0) { groups.insert(model.config.group(ofTimestep: Double(i) / Double(steps))) } }
        for t in evaluations { groups.insert(model.config.group(ofTimestep: Double(t))) }
        self.groups = groups
    }

    var contextStateBytes: Int? {
        Checked.sum(contexts.map { t in
            Checked.sum(Checked.product(2, d.layers, bufferBytes([Checked.product(t, d.kvDim)])), bufferBytes([Checked.product(t, d.d)]))
        })
    }

    var ropeBytes: Int? {
        let positions = Checked.sum(maxT, velocity ? d.tokens : 0) ?? 0
        return Checked.sum(bufferBytes([Checked.product(positions, d.headDim / 2), Checked.product(positions, d.headDim / 2)]), 8)
    }

    /// The prefill holds the shared weights, the context states, one context layer and the prefill workspace.
    func prefillPhase(contextStates: Int?) -> [(String, Int?)] {
        let fp = model.footprint
        let prefillWorkspace = maxT > 0 ? bufferBytes(PrefillWorkspace.sizes(rows: maxT, d, block: model.scoreBlock)) : 0
        // The embedding's rows, then one read per context layer (all its tensors together).
        let prefillScratch = largest([model.source.readScratchBytes(Names.embed)]
                                     + (0 ..< d.layers).map { model.source.readScratchBytes(Names.contextLayer($0, d).map(\.0)) })
        return [
            ("shared weights", fp.sharedBytes), ("a context layer", maxT > 0 ? fp.layerBytes : 0),
            ("context states", contextStates), ("prefill workspace", prefillWorkspace), ("RoPE table", ropeBytes),
            (Self.sourceCopies, prefillScratch),
        ]
    }

    /// The steps hold the shared weights, one replica group at a time (of those their
    /// timesteps need), the context states, the step workspace and the sampler's buffers.
    func stepPhase(contextStates: Int?) -> [(String, Int?)] {
        let fp = model.footprint, source = model.source
        let sizes = StepWorkspace.sizes(maxKeys: maxT + d.tokens, d, block: model.scoreBlock)
        let maps = bufferBytes([sizes[6], sizes[7]])
        let rest = bufferBytes(Array(sizes[0 ..< 6]) + Array(sizes[8...]))
        // A step's conditioning is freed when the next one is in place: two at a time.
        let conditioning = Checked.product(2, Checked.sum(Checked.product(d.layersPerGroup, bufferBytes([4 * d.d + d.heads])),
                                                           bufferBytes([2 * d.d])))
        // A source's buffers while it reads a group (a stream's, or a tensor's decoded copy),
        // one read at a time (the model waits for a prefetch before any other read).
        let groupScratch = groups.map { g in
            let layers = g * d.layersPerGroup ..< (g + 1) * d.layersPerGroup
            return Checked.sum(source.preparedBytes(group: g),
                               largest(layers.flatMap { Names.replicaLayer($0, d) }.map { source.readScratchBytes($0.0) }))
        }
        let latent = d.latentCount
        return [
            ("shared weights", fp.sharedBytes), (groupsHeld > 1 ? "two replica groups (one prefetched) of \(groups.sorted())" : "a replica group at a time of \(groups.sorted())",
             groups.isEmpty ? 0 : Checked.product(groupsHeld, fp.groupBytes)),
            ("context states", contextStates), ("residual-attention maps", maps), ("step workspace", rest),
            ("RoPE table", ropeBytes), ("sampler buffers", sampling ? bufferBytes([latent, latent, latent]) : 0),
            ("step conditioning", conditioning),
            (Self.sourceCopies, largest(groupScratch)),
        ]
    }

    /// Inputs and outputs: the outputs twice (arrays, then the serialized file).
    var inputOutputBytes: Int? {
        let latent = d.latentCount
        let inputsBytes = Checked.sum(Checked.product(8, inputs.contextIDs.count + (inputs.uncondIDs?.count ?? 0)),
                                      Checked.floats(inputs.noise?.count ?? 0), Checked.floats(inputs.xT?.count ?? 0),
                                      Checked.floats(evaluations.count))
        let outputBytes = Checked.sum(Checked.floats(sampling ? latent : 0), Checked.floats(Checked.product(evaluations.count, latent)),
                                      Checked.floats(Checked.product(inputs.contextIDs.count, d.d)))
        return Checked.sum(inputsBytes, Checked.product(2, outputBytes), Checked.floats(evaluations.isEmpty ? 0 : 2 * latent))
    }

    /// The work, in float64.
    var operations: Double {
        let D = Double(d.d), F = Double(d.f), H = Double(d.heads), hd = Double(d.headDim), N = Double(d.tokens)
        let linearPerToken = 2 * (Double(d.qkvDim) * D + D * Double(d.qDim) + 2 * F * D + D * F) + 40 * D
        let perPair = 4 * hd + 8 + (d.residualAttention ? 2 : 0)
        let fixed = RunEstimate.fixedOperationsPerCall
        func prefillWork(_ t: Double) -> Double { Double(d.layers) * (t * linearPerToken + H * t * t * perPair + fixed) }
        func pass(_ t: Double) -> Double {
            Double(d.layersPerGroup) * (N * linearPerToken + H * N * (t + N) * perPair + fixed) + 4 * N * Double(d.patchDim) * D + fixed
        }
        let conditioningWork = Double(d.layersPerGroup) * 2 * (4 * D * D + H * D) + 2 * (Double(d.freqDim) * D + 3 * D * D)
            + RunEstimate.fixedOperationsPerCall
        var work = contexts.map { prefillWork(Double($0)) }.reduce(0, +)
        if sampling {
            work += Double(steps) * (conditioningWork + pass(Double(contexts[0])) + (guided ? pass(Double(contexts.last!)) : 0))
        }
        work += Double(evaluations.count) * (conditioningWork + pass(Double(contexts[0])))
        return work
    }

    /// Steps, passes per step, velocity evaluations, image tokens and context lengths, for messages.
    var description: String {
        var shape: [String] = []
        if sampling { shape.append("\(steps) step\(steps == 1 ? "" : "s") × \(guided ? 2 : 1) pass\(guided ? "es" : "")") }
        if !evaluations.isEmpty { shape.append("\(evaluations.count) velocity evaluations") }
        if velocity { shape.append("\(d.layersPerGroup) layer\(d.layersPerGroup == 1 ? "" : "s") × \(d.tokens) image tokens") }
        shape.append("context \(contexts.map(String.init).joined(separator: " and ")) tokens through \(d.layers) layers of width \(d.d)")
        return shape.joined(separator: ", ")
    }
}
