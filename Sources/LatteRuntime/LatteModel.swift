import LatteCore
import LatteMapper
import LatteSystem

/// What the context model leaves for generation: per layer the context keys (after RoPE)
/// and values, [T, Hkv*hd] each, and the last hidden state before `model.norm`.
public final class ContextState {
    /// T, the number of context tokens.
    public let length: Int
    let keys: [FloatBuffer]
    let values: [FloatBuffer]
    let hiddenBuffer: FloatBuffer

    init(length: Int, layers: Int, kvDim: Int, d: Int, ledger: MemoryLedger) throws(RuntimeError) {
        self.length = length
        let what = "the context state of \(length) tokens"
        var keys: [FloatBuffer] = [], values: [FloatBuffer] = []
        for _ in 0 ..< layers {
            keys.append(try FloatBuffer(Checked.product(length, kvDim), in: ledger, for: what))
            values.append(try FloatBuffer(Checked.product(length, kvDim), in: ledger, for: what))
        }
        self.keys = keys
        self.values = values
        hiddenBuffer = try FloatBuffer(Checked.product(length, d), in: ledger, for: what)
    }

    /// The context model's last hidden state, [T, D] row-major.
    public var hidden: [Float] { Array(UnsafeBufferPointer(start: hiddenBuffer.p, count: hiddenBuffer.count)) }
}

/// Everything of a timestep that does not depend on the latent: its group, the time
/// embedding, and per layer of the group the modulation chunks and residual gates.
public final class StepConditioning {
    public let t: Double
    public let group: Int
    /// The group's replica layers: a conditioning keeps its group's weights alive, so a
    /// velocity evaluation under it never depends on what the model holds meanwhile.
    let layers: [ReplicaWeights]
    /// s = SiLU(temb), [D].
    public let s: [Float]
    /// Per layer of the group: gate_a, shift_f, 1 + scale_f, gate_f (each D), then alpha (H).
    let perLayer: [FloatBuffer]
    /// Image head: shift, 1 + scale (each D).
    let head: FloatBuffer

    init(t: Double, group: Int, layers: [ReplicaWeights], s: [Float], perLayer: [FloatBuffer], head: FloatBuffer) {
        self.t = t
        self.group = group
        self.layers = layers
        self.s = s
        self.perLayer = perLayer
        self.head = head
    }
}

/// The LaTtE-Flow reference model (docs/MODEL.md), float32 on OpenBLAS.
///
/// Weights come from a `WeightSource`. Shared generation tensors are read at init; the
/// context model's layers are read one at a time during each prefill into one set of
/// buffers, freed when the prefill returns (only the keys and values are kept); the replica
/// layers of group k are read (after `source.prepare(group: k)`) when a step of group k
/// needs them. Groups no step needs are never read.
///
/// Residency policy: one replica group is held at a time. A step of another group releases
/// the one held before reading its own, so sampling (t rises from 0 to 1 and never returns)
/// reads each group once and holds one; velocity evaluations at arbitrary timesteps read
/// a group again when they come back to it (`LatteRun.execute` orders them by group).
/// With `prefetches` set (the budget holds two groups), sampling reads the next group on a
/// background thread during the last `prefetchLeadSteps` steps of the current one: two
/// groups are held from then until the switch.
///
/// Every float buffer is reserved in `ledger` against the memory budget before it is
/// allocated (`LatteRun.execute` also estimates the whole run up front and refuses it
/// before any work when it would not fit).
public final class LatteModel {
    public let config: ModelConfig
    public let source: WeightSource
    /// The float buffers this model holds, against its memory budget.
    public let ledger: MemoryLedger
    let dims: Dims
    /// Sizes of the weights, from the shapes checked against the source.
    let footprint: ModelFootprint
    let shared: SharedWeights
    /// The one replica group held (see the residency policy above).
    private var resident: (group: Int, layers: [ReplicaWeights])?
    /// A group being read in the background, if any.
    private var pending: GroupPrefetch?
    /// A released group kept for its buffers while sampling prefetches (the next prefetch
    /// refills them): two groups are held then, as the estimate counts.
    private var spare: [ReplicaWeights]?
    /// Whether sampling reads the next group in the background (needs two groups' room).
    public var prefetches = false
    /// Steps before a group change at which its read starts: the read (~0.3-1.4 s for the
    /// 2B model's groups) then overlaps about two steps of compute (~0.8 s each).
    public static let prefetchLeadSteps = 2
    /// Seconds background reads took, and seconds the sampler waited for them.
    public private(set) var prefetchReadSeconds: Double = 0
    public private(set) var prefetchWaitSeconds: Double = 0
    /// The groups whose replica layers were read, in the order they were read (a group
    /// appears again when it was released and read anew).
    public private(set) var loadedGroups: [Int] = []
    /// Seconds the caller's thread spent on replica groups: reading them, or waiting for a
    /// background read (what the steps' times include).
    public private(set) var groupLoadSeconds: Double = 0
    /// Seconds the replica group reads took, wherever they ran (for throughput).
    public private(set) var groupReadSeconds: Double = 0
    /// Source bytes of the replica groups read (the stored BF16/F16/F32 bytes, for throughput),
    /// and of those read on the caller's thread (not prefetched: nothing else competes).
    public private(set) var groupReadBytes: Int = 0
    public private(set) var foregroundReadBytes: Int = 0
    /// Source bytes of the context-model layers read (inside the prefills).
    public private(set) var contextReadBytes: Int = 0
    /// Seconds spent reading and decoding context-model layers (inside the prefills).
    public private(set) var contextReadSeconds: Double = 0
    private var rope: RopeTable
    private var work: StepWorkspace?
    private let timeFreqs: [Float]

    /// Checks the config against `RuntimeLimits` and every tensor's presence and shape (no
    /// data read), then reads the shared generation tensors. `memoryBudget` (bytes) bounds
    /// everything the model and its runs allocate; nil: `MemoryBudget.automatic` for the
    /// size of these weights.
    public init(config: ModelConfig, weights: WeightSource, memoryBudget: Int? = nil) throws {
        try config.validate()
        try RuntimeLimits.check(config)
        self.config = config
        self.source = weights
        let d = Dims(config)
        dims = d
        // The widths the config states must be those of the weights present: every shape
        // below is compared with the source's before any buffer is sized by it.
        for (name, shape) in Names.all(d) { try Loader.checkShape(weights, name, shape) }
        let footprint = try ModelFootprint(d)
        self.footprint = footprint
        let ledger = MemoryLedger(budget: memoryBudget ?? MemoryBudget.automatic(weightBytes: footprint.weightBytes))
        self.ledger = ledger
        shared = try SharedWeights(Loader(source: weights, dims: d, ledger: ledger))
        rope = try RopeTable(positions: 0, headDim: d.headDim, theta: d.ropeTheta, ledger: ledger)
        let half = d.freqDim / 2
        let c = Float(-log(10000.0))
        timeFreqs = (0 ..< half).map { i in expf((c * Float(i)) / Float(half)) }
    }

    /// M, the replica layers a velocity evaluation runs.
    public var layersPerStep: Int { dims.layersPerGroup }

    /// The expert group of timestep t (float64 comparison, a boundary belongs to the later group).
    public func group(ofTimestep t: Double) -> Int { config.group(ofTimestep: t) }

    /// The memory budget, in bytes.
    public var memoryBudget: Int { ledger.budget }

    private var loader: Loader { Loader(source: source, dims: dims, ledger: ledger) }

    private func ropeTable(positions: Int) throws(RuntimeError) -> RopeTable {
        if rope.positions < positions {
            let grown = max(positions, min(2 * rope.positions, RuntimeLimits.maxContextTokens + RuntimeLimits.maxImageTokens))
            rope = try RopeTable(positions: grown, headDim: dims.headDim, theta: dims.ropeTheta, ledger: ledger)
        }
        return rope
    }

    /// Sizes the RoPE table for `positions` and, when `stepContext` is given, the step
    /// workspace for contexts of up to that many tokens, so that a run allocates each once
    /// (what `RunEstimate` counts).
    public func reserve(positions: Int, stepContext: Int? = nil) throws {
        _ = try ropeTable(positions: positions)
        if let stepContext { _ = try workspace(contextLength: stepContext) }
    }

    /// The group held now, if any.
    public var residentGroup: Int? { resident?.group }

    /// The replica layers of group k: the held group's, or read after releasing it.
    func groupWeights(_ k: Int) throws -> [ReplicaWeights] {
        if let r = resident, r.group == k { return r.layers }
        if let p = try joinPrefetch(), p.group == k { return p.layers }
        // The held group's buffers are refilled when nothing else refers to them; otherwise
        // it is released before the next is reserved: its bytes return to the budget first.
        let reuse = takeSpare()
        let start = monotonicSeconds()
        try source.prepare(group: k)
        let m = dims.layersPerGroup
        let layers = try ReplicaWeights.group(layers: k * m ..< (k + 1) * m, loader, reusing: reuse)
        source.finish(group: k)
        resident = (k, layers)
        loadedGroups.append(k)
        groupLoadSeconds += monotonicSeconds() - start
        groupReadSeconds += monotonicSeconds() - start
        groupReadBytes += layers.reduce(0) { $0 + $1.sourceBytes }
        foregroundReadBytes += layers.reduce(0) { $0 + $1.sourceBytes }
        return layers
    }

    /// Releases the group held, if any (its float32 buffers go back to the budget once no
    /// step conditioning refers to them).
    public func releaseGroup() {
        _ = try? joinPrefetch()
        resident = nil
        spare = nil
    }

    /// A released group's layers whose buffers may be refilled: the spare one, else the
    /// held one (released here).
    private func takeSpare() -> [ReplicaWeights]? {
        if spare == nil { spare = resident?.layers }
        resident = nil
        return Self.takeReusable(&spare)
    }

    /// Takes `list` (leaving nil) when the model holds the only reference to each layer (a
    /// step conditioning kept by a caller must not see its weights change), else drops it.
    /// Checked in place: a copy of the array would itself add a reference to every layer.
    private static func takeReusable(_ list: inout [ReplicaWeights]?) -> [ReplicaWeights]? {
        defer { list = nil }
        guard list != nil else { return nil }
        for i in list!.indices where !isKnownUniquelyReferenced(&list![i]) { return nil }
        return list
    }

    /// Starts reading group k in the background unless it is held or being read.
    private func startPrefetch(_ k: Int) {
        guard pending == nil, resident?.group != k else { return }
        let m = dims.layersPerGroup
        pending = GroupPrefetch.start(group: k, layers: k * m ..< (k + 1) * m, loader, reusing: Self.takeReusable(&spare))
    }

    /// Waits for a background read, if one runs; the group it read becomes the one held (the
    /// previous one is released) and is returned. Its error, if it met one, is thrown here.
    private func joinPrefetch() throws -> (group: Int, layers: [ReplicaWeights])? {
        guard let p = pending else { return nil }
        pending = nil
        let start = monotonicSeconds()
        let layers: [ReplicaWeights]
        do { layers = try p.wait() } catch {
            prefetchWaitSeconds += monotonicSeconds() - start
            throw error
        }
        prefetchWaitSeconds += monotonicSeconds() - start
        groupLoadSeconds += monotonicSeconds() - start
        prefetchReadSeconds += p.readSeconds
        groupReadSeconds += p.readSeconds
        spare = resident?.layers
        resident = (p.group, layers)
        loadedGroups.append(p.group)
        groupReadBytes += layers.reduce(0) { $0 + $1.sourceBytes }
        return resident
    }

    // MARK: Context prefill

    /// Runs the context model on each token sequence (positions 0..T-1, causal), reading
    /// each context layer once for all sequences. `name` labels the sequence in errors.
    public func prefill(_ contexts: [(name: String, ids: [Int])]) throws -> [ContextState] {
        let d = dims
        for c in contexts {
            try RuntimeLimits.checkContext(c.ids.count, tensor: c.name)
            for (i, id) in c.ids.enumerated() where id < 0 || id >= d.vocab {
                throw RuntimeError.tokenOutOfRange(tensor: c.name, position: i, id: Int64(id), vocabSize: d.vocab)
            }
        }
        _ = try joinPrefetch()   // the source has one user at a time
        let maxT = contexts.map(\.ids.count).max() ?? 0
        let table = try ropeTable(positions: maxT)
        let states = try contexts.map { try ContextState(length: $0.ids.count, layers: d.layers, kvDim: d.kvDim, d: d.d, ledger: ledger) }
        for (c, st) in zip(contexts, states) where !c.ids.isEmpty {
            try source.readRows(Names.embed, rows: c.ids, into: st.hiddenBuffer.buffer)
        }
        guard maxT > 0 else { return states }
        let w = try PrefillWorkspace(rows: maxT, d, block: scoreBlock, ledger)
        let layer = try DecoderWeights(d, ledger, "a context layer")
        for l in 0 ..< d.layers {
            let start = monotonicSeconds()
            contextReadBytes += try layer.load("model.layers.\(l)", loader)
            contextReadSeconds += monotonicSeconds() - start
            for st in states where st.length > 0 {
                contextLayer(layer, st, l, w, table)
            }
        }
        return states
    }

    /// Convenience: one context.
    public func prefill(ids: [Int], name: String = "context_ids") throws -> ContextState {
        try prefill([(name, ids)])[0]
    }

    private func contextLayer(_ wt: DecoderWeights, _ st: ContextState, _ l: Int, _ w: PrefillWorkspace, _ table: RopeTable) {
        let d = dims, t = st.length, x = st.hiddenBuffer.p
        Kernels.rmsNorm(x, rows: t, dim: d.d, wt.inputNorm.p, eps: d.eps, w.a.p)
        Kernels.linear(w.a.p, rows: t, inFeatures: d.d, wt.qkvW.p, bias: wt.qkvB.p, outFeatures: d.qkvDim, w.qkv.p)
        Kernels.rope(w.qkv.p, rows: t, rowStride: d.qkvDim, heads: d.heads, headDim: d.headDim, table: table, firstPosition: 0)
        Kernels.rope(w.qkv.p + d.qDim, rows: t, rowStride: d.qkvDim, heads: d.kvHeads, headDim: d.headDim,
                     table: table, firstPosition: 0)
        let k = st.keys[l].p, v = st.values[l].p
        for r in 0 ..< t {
            (k + r * d.kvDim).update(from: w.qkv.p + r * d.qkvDim + d.qDim, count: d.kvDim)
            (v + r * d.kvDim).update(from: w.qkv.p + r * d.qkvDim + d.qDim + d.kvDim, count: d.kvDim)
        }
        attention(q: w.qkv.p, ldq: d.qkvDim, rows: t, keys: k, values: v, ldkv: d.kvDim, nKeys: t,
                  scores: w.scores.p, out: w.o.p, causal: true, residual: nil)
        Kernels.gemmNT(t, d.d, d.qDim, w.o.p, d.qDim, wt.oW.p, d.qDim, w.t1.p, d.d)
        add(x, w.t1.p, t * d.d)
        Kernels.rmsNorm(x, rows: t, dim: d.d, wt.postNorm.p, eps: d.eps, w.a.p)
        Kernels.gemmNT(t, 2 * d.f, d.d, w.a.p, d.d, wt.gateUpW.p, d.d, w.gu.p, 2 * d.f)
        Kernels.siluMul(w.gu.p, rows: t, n: d.f, w.act.p)
        Kernels.gemmNT(t, d.d, d.f, w.act.p, d.f, wt.downW.p, d.f, w.t1.p, d.d)
        add(x, w.t1.p, t * d.d)
    }

    /// The image-to-image logit residual of one layer: the block added (prev, scaled by
    /// alpha per head) and where the updated block is kept (cur).
    struct Residual {
        var alpha: UnsafePointer<Float>?
        var prev: UnsafePointer<Float>?
        var cur: UnsafeMutablePointer<Float>
        var offset: Int
    }

    /// Scores held at once by the attention: query rows go through in blocks of
    /// `defaultScoreBlock / keys` rows, so the scores buffer grows with the number of keys, not its
    /// square (a 32768-token prefill holds 16 MiB of scores, not 4 GiB). Up to this size a
    /// single block covers every row, as before blocking.
    static let defaultScoreBlock = 1 << 22
    /// This model's `defaultScoreBlock` (tests make it small to force many blocks).
    var scoreBlock = LatteModel.defaultScoreBlock

    /// Query rows per block of an attention with `keys` keys, `block` scores at a time.
    static func blockRows(rows: Int, keys: Int, block: Int) -> Int { max(1, min(rows, block / max(keys, 1))) }

    /// Multi-head attention with GQA, one head and one block of query rows at a time through
    /// sgemm: S = q K^T / sqrt(hd) (causal or not), optional TC-ResAttn on S[:, offset:],
    /// softmax, O = P V into out [rows, H*hd]. `scores` holds `blockRows(rows:keys:)` rows of
    /// `nKeys`. Causal attention (the prefill, nKeys == rows) gives a block of rows r0 ..< r1
    /// the keys 0 ..< r1 only: those after are masked anyway.
    private func attention(q: UnsafePointer<Float>, ldq: Int, rows: Int, keys: UnsafePointer<Float>,
                           values: UnsafePointer<Float>, ldkv: Int, nKeys: Int, scores: UnsafeMutablePointer<Float>,
                           out: UnsafeMutablePointer<Float>, causal: Bool, residual: Residual?) {
        let d = dims
        let scale = 1 / Float(Double(d.headDim).squareRoot())
        let block = Self.blockRows(rows: rows, keys: nKeys, block: scoreBlock)
        precondition(!causal || nKeys == rows, "causal attention is over the rows' own keys")
        for h in 0 ..< d.heads {
            let j = h / d.groupSize
            var r0 = 0
            while r0 < rows {
                let m = min(block, rows - r0)
                let used = causal ? r0 + m : nKeys
                Kernels.gemmNT(m, used, d.headDim, alpha: scale, q + r0 * ldq + h * d.headDim, ldq, keys + j * d.headDim, ldkv,
                               scores, used)
                if let res = residual {
                    let n = nKeys - res.offset
                    for r in 0 ..< m {
                        let srow = scores + r * used + res.offset
                        if let alpha = res.alpha, let prev = res.prev {
                            let a = alpha[h], prow = prev + (h * rows + r0 + r) * n
                            for c in 0 ..< n { srow[c] += a * prow[c] }
                        }
                        (res.cur + (h * rows + r0 + r) * n).update(from: srow, count: n)
                    }
                }
                Kernels.softmaxRows(scores, rows: m, cols: used, ld: used, causalFirst: causal ? r0 : -1)
                Kernels.gemmNN(m, d.headDim, used, scores, used, values + j * d.headDim, ldkv,
                               out + r0 * d.qDim + h * d.headDim, d.qDim)
                r0 += m
            }
        }
    }

    // MARK: Timestep conditioning

    /// The group of t, reading its layers if needed, and everything computed from t alone.
    public func conditioning(at t: Double) throws -> StepConditioning {
        let d = dims
        let k = group(ofTimestep: t)
        let layers = try groupWeights(k)
        let sw = shared
        // Time embedding: a = (1000 t) * freqs in float32, e = [cos a, sin a].
        let t32 = Float(t) * 1000
        var e = [Float](repeating: 0, count: d.freqDim)
        let half = d.freqDim / 2
        for i in 0 ..< half {
            let a = t32 * timeFreqs[i]
            e[i] = cosf(a)
            e[half + i] = sinf(a)
        }
        var h1 = [Float](repeating: 0, count: d.d)
        var s = [Float](repeating: 0, count: d.d)
        e.withUnsafeBufferPointer { ep in
            h1.withUnsafeMutableBufferPointer { hp in
                Kernels.linear(ep.baseAddress!, rows: 1, inFeatures: d.freqDim, sw.te1W.p, bias: sw.te1B.p,
                               outFeatures: d.d, hp.baseAddress!)
                for i in 0 ..< d.d { hp[i] = Kernels.silu(hp[i]) }
                s.withUnsafeMutableBufferPointer { sp in
                    Kernels.linear(hp.baseAddress!, rows: 1, inFeatures: d.d, sw.te2W.p, bias: sw.te2B.p,
                                   outFeatures: d.d, sp.baseAddress!)
                    for i in 0 ..< d.d { sp[i] = Kernels.silu(sp[i]) }
                }
            }
        }
        let perLayer: [FloatBuffer] = try layers.map { lw in
            let b = try FloatBuffer(4 * d.d + d.heads, in: ledger, for: "the step conditioning")
            s.withUnsafeBufferPointer { sp in
                Kernels.linear(sp.baseAddress!, rows: 1, inFeatures: d.d, lw.modW.p, bias: lw.modB.p,
                               outFeatures: 4 * d.d, b.p)
                for i in 0 ..< d.d { b.p[2 * d.d + i] = 1 + b.p[2 * d.d + i] }
                Kernels.linear(sp.baseAddress!, rows: 1, inFeatures: d.d, lw.resW.p, bias: lw.resB.p,
                               outFeatures: d.heads, b.p + 4 * d.d)
                for i in 0 ..< d.heads { b.p[4 * d.d + i] = Kernels.sigmoid(b.p[4 * d.d + i]) }
            }
            return b
        }
        let head = try FloatBuffer(2 * d.d, in: ledger, for: "the step conditioning")
        s.withUnsafeBufferPointer { sp in
            Kernels.linear(sp.baseAddress!, rows: 1, inFeatures: d.d, sw.headModW.p, bias: sw.headModB.p,
                           outFeatures: 2 * d.d, head.p)
        }
        for i in 0 ..< d.d { head.p[d.d + i] = 1 + head.p[d.d + i] }
        return StepConditioning(t: t, group: k, layers: layers, s: s, perLayer: perLayer, head: head)
    }

    // MARK: Velocity

    private func workspace(contextLength: Int) throws(RuntimeError) -> StepWorkspace {
        if let w = work, w.maxKeys >= contextLength + dims.tokens { return w }
        let keys = max(contextLength + dims.tokens, (work?.maxKeys ?? 0))
        work = nil   // the old one is freed before the larger one is reserved
        let w = try StepWorkspace(maxKeys: keys, dims, block: scoreBlock, ledger)
        work = w
        return w
    }

    /// v(z, t, c) for a latent z [C, h, w] (row-major): patch embedding, the M layers of the
    /// group of t, the image head, unpatchify.
    public func velocity(latent z: [Float], t: Double, context: ContextState) throws -> [Float] {
        guard z.count == dims.latentCount else {
            throw RuntimeError.wrongShape(tensor: "latent", expected: [dims.channels, dims.height, dims.width], found: [z.count])
        }
        let cond = try conditioning(at: t)
        var out = [Float](repeating: 0, count: z.count)
        try z.withUnsafeBufferPointer { zp in
            try out.withUnsafeMutableBufferPointer { op in
                try velocity(zp.baseAddress!, cond, context, op.baseAddress!)
            }
        }
        return out
    }

    /// The velocity of latent z under `cond`, written to `out` (both C*h*w floats).
    func velocity(_ z: UnsafePointer<Float>, _ cond: StepConditioning, _ ctx: ContextState, _ out: UnsafeMutablePointer<Float>) throws {
        let d = dims, n = d.tokens, tc = ctx.length
        let w = try workspace(contextLength: tc)
        let table = try ropeTable(positions: tc + n)
        let layers = cond.layers
        // Patch embedding: token (i, j) feature c*p*p + y*p + x = z[c, i*p+y, j*p+x].
        let p = d.patch
        for i in 0 ..< d.gridH {
            for j in 0 ..< d.gridW {
                let row = w.patches.p + (i * d.gridW + j) * d.patchDim
                for c in 0 ..< d.channels {
                    for y in 0 ..< p {
                        for xx in 0 ..< p {
                            row[c * p * p + y * p + xx] = z[(c * d.height + i * p + y) * d.width + j * p + xx]
                        }
                    }
                }
            }
        }
        Kernels.linear(w.patches.p, rows: n, inFeatures: d.patchDim, shared.patchW.p, bias: shared.patchB.p,
                       outFeatures: d.d, w.x.p)
        var prev: UnsafeMutablePointer<Float>? = nil
        var cur = w.r0.p, spare = w.r1.p
        for (i, lw) in layers.enumerated() {
            let l = cond.group * d.layersPerGroup + i
            let mods = cond.perLayer[i].p
            let residual: Residual? = d.residualAttention
                ? Residual(alpha: i > 0 ? mods + 4 * d.d : nil, prev: i > 0 ? UnsafePointer(prev) : nil, cur: cur, offset: tc)
                : nil
            replicaLayer(lw, l: l, mods: mods, ctx: ctx, w: w, table: table, residual: residual)
            if d.residualAttention {
                prev = cur
                swap(&cur, &spare)
            }
        }
        // Image head.
        Kernels.rmsNormModulated(w.x.p, rows: n, dim: d.d, shared.headNorm.p, eps: d.eps,
                                 onePlusScale: cond.head.p + d.d, shift: cond.head.p, w.a.p)
        Kernels.linear(w.a.p, rows: n, inFeatures: d.d, shared.headProjW.p, bias: shared.headProjB.p,
                       outFeatures: d.patchDim, w.y.p)
        for i in 0 ..< d.gridH {
            for j in 0 ..< d.gridW {
                let row = w.y.p + (i * d.gridW + j) * d.patchDim
                for c in 0 ..< d.channels {
                    for y in 0 ..< p {
                        for xx in 0 ..< p {
                            out[(c * d.height + i * p + y) * d.width + j * p + xx] = row[c * p * p + y * p + xx]
                        }
                    }
                }
            }
        }
    }

    private func replicaLayer(_ lw: ReplicaWeights, l: Int, mods: UnsafePointer<Float>, ctx: ContextState,
                              w: StepWorkspace, table: RopeTable, residual: Residual?) {
        let d = dims, n = d.tokens, tc = ctx.length, wt = lw.decoder, x = w.x.p
        let gateA = mods, shiftF = mods + d.d, onePlusScaleF = mods + 2 * d.d, gateF = mods + 3 * d.d
        Kernels.rmsNorm(x, rows: n, dim: d.d, wt.inputNorm.p, eps: d.eps, w.a.p)
        Kernels.linear(w.a.p, rows: n, inFeatures: d.d, wt.qkvW.p, bias: wt.qkvB.p, outFeatures: d.qkvDim, w.qkv.p)
        Kernels.rope(w.qkv.p, rows: n, rowStride: d.qkvDim, heads: d.heads, headDim: d.headDim, table: table, firstPosition: tc)
        Kernels.rope(w.qkv.p + d.qDim, rows: n, rowStride: d.qkvDim, heads: d.kvHeads, headDim: d.headDim,
                     table: table, firstPosition: tc)
        // Keys and values: context first, then the image tokens'.
        if tc > 0 {
            w.keys.p.update(from: ctx.keys[l].p, count: tc * d.kvDim)
            w.values.p.update(from: ctx.values[l].p, count: tc * d.kvDim)
        }
        for r in 0 ..< n {
            (w.keys.p + (tc + r) * d.kvDim).update(from: w.qkv.p + r * d.qkvDim + d.qDim, count: d.kvDim)
            (w.values.p + (tc + r) * d.kvDim).update(from: w.qkv.p + r * d.qkvDim + d.qDim + d.kvDim, count: d.kvDim)
        }
        attention(q: w.qkv.p, ldq: d.qkvDim, rows: n, keys: w.keys.p, values: w.values.p, ldkv: d.kvDim,
                  nKeys: tc + n, scores: w.scores.p, out: w.o.p, causal: false, residual: residual)
        Kernels.gemmNT(n, d.d, d.qDim, w.o.p, d.qDim, wt.oW.p, d.qDim, w.t1.p, d.d)
        Kernels.addGatedRMSNorm(x, rows: n, dim: d.d, gate: gateA, w.t1.p, lw.attnOutNorm.p, eps: d.eps)
        Kernels.rmsNormModulated(x, rows: n, dim: d.d, wt.postNorm.p, eps: d.eps, onePlusScale: onePlusScaleF,
                                 shift: shiftF, w.a.p)
        Kernels.gemmNT(n, 2 * d.f, d.d, w.a.p, d.d, wt.gateUpW.p, d.d, w.gu.p, 2 * d.f)
        Kernels.siluMul(w.gu.p, rows: n, n: d.f, w.act.p)
        Kernels.gemmNT(n, d.d, d.f, w.act.p, d.f, wt.downW.p, d.f, w.t1.p, d.d)
        Kernels.addGatedRMSNorm(x, rows: n, dim: d.d, gate: gateF, w.t1.p, lw.mlpOutNorm.p, eps: d.eps)
    }

    // MARK: Sampling

    /// Euler sampling: z = noise; for i in 0..<steps: t = i/steps (float64);
    /// z = z + v(z, t) / steps, with v = v_u + g (v_c - v_u) when `uncond` is given and
    /// g != 1. `onStep(i, t, group)` is called after each step.
    public func sample(noise: [Float], steps: Int, cfgScale: Float = 1, context: ContextState,
                       uncond: ContextState? = nil, onStep: ((Int, Double, Int) -> Void)? = nil) throws -> [Float] {
        let d = dims
        guard noise.count == d.latentCount else {
            throw RuntimeError.wrongShape(tensor: "noise", expected: [d.channels, d.height, d.width], found: [noise.count])
        }
        guard steps >= 1 else { throw RuntimeError.usage("steps must be at least 1, found \(steps)") }
        let guided = cfgScale != 1
        if guided && uncond == nil {
            throw RuntimeError.usage("a guidance scale other than 1 needs an unconditional context (uncond_ids)")
        }
        try RuntimeLimits.checkSteps(steps, "steps")
        let count = d.latentCount
        let what = "the sampler's latents"
        let z = try FloatBuffer(count, in: ledger, for: what), v = try FloatBuffer(count, in: ledger, for: what)
        let vu = try FloatBuffer(count, in: ledger, for: what)
        noise.withUnsafeBufferPointer { z.p.update(from: $0.baseAddress!, count: count) }
        // One workspace for both contexts, sized before the first step.
        _ = try workspace(contextLength: max(context.length, uncond?.length ?? 0))
        let stepsF = Float(steps)
        // No read outlives the sampling (the source has one user at a time), nor a spare group.
        defer {
            _ = try? joinPrefetch()
            spare = nil
        }
        for i in 0 ..< steps {
            let t = Double(i) / Double(steps)
            let cond = try conditioning(at: t)
            if prefetches, let next = nextGroup(after: i, steps: steps, within: Self.prefetchLeadSteps) { startPrefetch(next) }
            try velocity(z.p, cond, context, v.p)
            if guided, let uncond {
                try velocity(z.p, cond, uncond, vu.p)
                for j in 0 ..< count { v.p[j] = vu.p[j] + cfgScale * (v.p[j] - vu.p[j]) }
            }
            for j in 0 ..< count { z.p[j] = z.p[j] + v.p[j] / stepsF }
            onStep?(i, t, cond.group)
        }
        return z.array
    }
}

extension LatteModel {
    /// The group of the first step after step i (of `steps`) whose group differs from step
    /// i's, when it is at most `lead` steps ahead.
    func nextGroup(after i: Int, steps: Int, within lead: Int) -> Int? {
        let k = group(ofTimestep: Double(i) / Double(steps))
        for j in i + 1 ..< min(steps, i + lead + 1) {
            let g = group(ofTimestep: Double(j) / Double(steps))
            if g != k { return g }
        }
        return nil
    }
}

@inline(__always)
func add(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) {
    for i in 0 ..< n { x[i] += y[i] }
}

/// Scratch buffers of the context prefill, for up to `rows` tokens.
final class PrefillWorkspace {
    let a, qkv, scores, o, t1, gu, act: FloatBuffer

    init(rows: Int, _ d: Dims, block: Int, _ ledger: MemoryLedger) throws(RuntimeError) {
        let sizes = Self.sizes(rows: rows, d, block: block)
        func buffer(_ i: Int) throws(RuntimeError) -> FloatBuffer {
            try FloatBuffer(sizes[i], in: ledger, for: "the prefill workspace of \(rows) tokens")
        }
        a = try buffer(0)
        qkv = try buffer(1)
        scores = try buffer(2)
        o = try buffer(3)
        t1 = try buffer(4)
        gu = try buffer(5)
        act = try buffer(6)
    }

    /// Element counts of a, qkv, scores, o, t1, gu, act (nil: overflow), for `RunEstimate` too.
    static func sizes(rows: Int, _ d: Dims, block: Int) -> [Int?] {
        [Checked.product(rows, d.d), Checked.product(rows, d.qkvDim),
         Checked.product(LatteModel.blockRows(rows: rows, keys: rows, block: block), rows), Checked.product(rows, d.qDim),
         Checked.product(rows, d.d), Checked.product(rows, 2, d.f), Checked.product(rows, d.f)]
    }
}

/// Scratch buffers of a velocity evaluation (N image tokens, up to maxKeys keys), allocated
/// once and reused by every step.
final class StepWorkspace {
    let maxKeys: Int
    let x, a, qkv, keys, values, scores, r0, r1, o, t1, gu, act, patches, y: FloatBuffer

    init(maxKeys: Int, _ d: Dims, block: Int, _ ledger: MemoryLedger) throws(RuntimeError) {
        self.maxKeys = maxKeys
        let sizes = Self.sizes(maxKeys: maxKeys, d, block: block)
        func buffer(_ i: Int, _ what: String = "the step workspace") throws(RuntimeError) -> FloatBuffer {
            try FloatBuffer(sizes[i], in: ledger, for: what)
        }
        x = try buffer(0)
        a = try buffer(1)
        qkv = try buffer(2)
        keys = try buffer(3)
        values = try buffer(4)
        scores = try buffer(5)
        r0 = try buffer(6, "the residual-attention maps of \(d.tokens) image tokens")
        r1 = try buffer(7, "the residual-attention maps of \(d.tokens) image tokens")
        o = try buffer(8)
        t1 = try buffer(9)
        gu = try buffer(10)
        act = try buffer(11)
        patches = try buffer(12)
        y = try buffer(13)
    }

    /// Element counts of x, a, qkv, keys, values, scores, r0, r1, o, t1, gu, act, patches, y
    /// (nil: overflow), for `RunEstimate` too.
    static func sizes(maxKeys: Int, _ d: Dims, block: Int) -> [Int?] {
        let n = d.tokens
        let maps = d.residualAttention ? Checked.product(d.heads, n, n) : 0
        return [Checked.product(n, d.d), Checked.product(n, d.d), Checked.product(n, d.qkvDim),
                Checked.product(maxKeys, d.kvDim), Checked.product(maxKeys, d.kvDim),
                Checked.product(LatteModel.blockRows(rows: n, keys: maxKeys, block: block), maxKeys), maps, maps,
                Checked.product(n, d.qDim), Checked.product(n, d.d), Checked.product(n, 2, d.f), Checked.product(n, d.f),
                Checked.product(n, d.patchDim), Checked.product(n, d.patchDim)]
    }
}
