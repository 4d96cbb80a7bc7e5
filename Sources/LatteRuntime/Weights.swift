import LatteCore
import LatteMapper

/// The model's sizes, read once from the config.
struct Dims: Sendable {
    let d, f, heads, kvHeads, headDim, groupSize: Int
    let qDim, kvDim, qkvDim: Int
    let layers, groups, layersPerGroup: Int
    let channels, patch, height, width, gridH, gridW, tokens, patchDim: Int
    let freqDim, vocab: Int
    let eps: Float
    let ropeTheta: Double
    let residualAttention: Bool

    init(_ c: ModelConfig) {
        d = c.hiddenSize
        f = c.intermediateSize
        heads = c.numAttentionHeads
        kvHeads = c.numKeyValueHeads
        headDim = c.headDim
        groupSize = heads / kvHeads
        qDim = heads * headDim
        kvDim = kvHeads * headDim
        qkvDim = qDim + 2 * kvDim
        layers = c.numHiddenLayers
        groups = c.numTimestepGroups
        layersPerGroup = c.layersPerGroup
        channels = c.latentChannels
        patch = c.patchSize
        height = c.latentSize[0]
        width = c.latentSize[1]
        gridH = height / patch
        gridW = width / patch
        tokens = gridH * gridW
        patchDim = channels * patch * patch
        freqDim = c.timeEmbedFrequencyDim
        vocab = c.vocabSize
        eps = Float(c.rmsNormEps)
        ropeTheta = c.ropeTheta
        residualAttention = c.residualAttention
    }

    var latentCount: Int { channels * height * width }
}

/// Tensor names, as in docs/MODEL.md.
enum Names {
    static let embed = "model.embed_tokens.weight"

    static func decoder(_ prefix: String, _ d: Dims) -> [(String, [Int])] {
        [
            ("\(prefix).input_layernorm.weight", [d.d]),
            ("\(prefix).self_attn.q_proj.weight", [d.qDim, d.d]), ("\(prefix).self_attn.q_proj.bias", [d.qDim]),
            ("\(prefix).self_attn.k_proj.weight", [d.kvDim, d.d]), ("\(prefix).self_attn.k_proj.bias", [d.kvDim]),
            ("\(prefix).self_attn.v_proj.weight", [d.kvDim, d.d]), ("\(prefix).self_attn.v_proj.bias", [d.kvDim]),
            ("\(prefix).self_attn.o_proj.weight", [d.d, d.qDim]),
            ("\(prefix).post_attention_layernorm.weight", [d.d]),
            ("\(prefix).mlp.gate_proj.weight", [d.f, d.d]), ("\(prefix).mlp.up_proj.weight", [d.f, d.d]),
            ("\(prefix).mlp.down_proj.weight", [d.d, d.f]),
        ]
    }

    static func contextLayer(_ l: Int, _ d: Dims) -> [(String, [Int])] { decoder("model.layers.\(l)", d) }

    static func replicaLayer(_ l: Int, _ d: Dims) -> [(String, [Int])] {
        let p = "gen.layers.\(l)"
        return decoder(p, d) + [
            ("\(p).attn_out_norm.weight", [d.d]), ("\(p).mlp_out_norm.weight", [d.d]),
            ("\(p).modulation.weight", [4 * d.d, d.d]), ("\(p).modulation.bias", [4 * d.d]),
            ("\(p).res_gate.weight", [d.heads, d.d]), ("\(p).res_gate.bias", [d.heads]),
        ]
    }

    static func shared(_ d: Dims) -> [(String, [Int])] {
        [
            ("time_embed.linear_1.weight", [d.d, d.freqDim]), ("time_embed.linear_1.bias", [d.d]),
            ("time_embed.linear_2.weight", [d.d, d.d]), ("time_embed.linear_2.bias", [d.d]),
            ("patch_embed.proj.weight", [d.d, d.channels, d.patch, d.patch]), ("patch_embed.proj.bias", [d.d]),
            ("image_head.norm.weight", [d.d]),
            ("image_head.modulation.weight", [2 * d.d, d.d]), ("image_head.modulation.bias", [2 * d.d]),
            ("image_head.proj.weight", [d.patchDim, d.d]), ("image_head.proj.bias", [d.patchDim]),
        ]
    }

    /// Every tensor generation needs, with its shape (`model.norm.weight` is not needed).
    static func all(_ d: Dims) -> [(String, [Int])] {
        var out: [(String, [Int])] = [(embed, [d.vocab, d.d])]
        for l in 0 ..< d.layers { out += contextLayer(l, d) }
        for l in 0 ..< d.layers { out += replicaLayer(l, d) }
        return out + shared(d)
    }
}

/// Reads tensors from a source into float32 buffers, checking shapes; every buffer is
/// reserved in the model's ledger first.
struct Loader {
    let source: WeightSource
    let dims: Dims
    let ledger: MemoryLedger

    func checkShape(_ name: String, _ expected: [Int]) throws { try Self.checkShape(source, name, expected) }

    /// The tensor `name` of `source` must exist with shape `expected`.
    static func checkShape(_ source: WeightSource, _ name: String, _ expected: [Int]) throws(RuntimeError) {
        guard let found = source.shape(name) else { throw .missingTensor(name) }
        guard found == expected else { throw .wrongShape(tensor: name, expected: expected, found: found) }
    }

    /// The read of `name` (expected shape `shape`) into `dst` at element offset `offset`.
    func request(_ name: String, _ shape: [Int], into dst: FloatBuffer, at offset: Int = 0) throws -> WeightRead {
        try checkShape(name, shape)
        let n = elementCount(of: shape) ?? 0
        precondition(offset + n <= dst.count)
        return WeightRead(name: name, destination: UnsafeMutableBufferPointer(start: dst.p + offset, count: n))
    }

    /// Reads `name` (expected shape `shape`) into `dst` at element offset `offset`.
    func read(_ name: String, _ shape: [Int], into dst: FloatBuffer, at offset: Int = 0) throws {
        try source.read([request(name, shape, into: dst, at: offset)])
    }

    /// A buffer for `name` and its read, to be done with others in one `source.read`.
    func buffer(_ name: String, _ shape: [Int], _ reads: inout [WeightRead]) throws -> FloatBuffer {
        let b = try FloatBuffer(elementCount(of: shape), zeroed: false, in: ledger, for: "tensor '\(name)'")
        reads.append(try request(name, shape, into: b))
        return b
    }

    func tensor(_ name: String, _ shape: [Int]) throws -> FloatBuffer {
        var reads: [WeightRead] = []
        let b = try buffer(name, shape, &reads)
        try source.read(reads)
        return b
    }

    /// Source bytes of the tensors `reads` name (0 for those the source cannot say).
    func storedBytes(_ reads: [WeightRead]) -> Int { reads.reduce(0) { $0 + (source.storedBytes($1.name) ?? 0) } }
}

/// One Qwen2 decoder layer's weights, q|k|v and gate|up fused for one product each.
final class DecoderWeights {
    let inputNorm: FloatBuffer   // [D]
    let qkvW: FloatBuffer        // [qDim + 2 kvDim, D]
    let qkvB: FloatBuffer        // [qDim + 2 kvDim]
    let oW: FloatBuffer          // [D, qDim]
    let postNorm: FloatBuffer    // [D]
    let gateUpW: FloatBuffer     // [2F, D]
    let downW: FloatBuffer       // [D, F]

    /// Buffers for one layer, filled by `load`.
    init(_ d: Dims, _ ledger: MemoryLedger, _ what: String) throws(RuntimeError) {
        func buffer(_ count: Int?) throws(RuntimeError) -> FloatBuffer {
            try FloatBuffer(count, zeroed: false, in: ledger, for: what)
        }
        inputNorm = try buffer(d.d)
        qkvW = try buffer(Checked.product(d.qkvDim, d.d))
        qkvB = try buffer(d.qkvDim)
        oW = try buffer(Checked.product(d.d, d.qDim))
        postNorm = try buffer(d.d)
        gateUpW = try buffer(Checked.product(2, d.f, d.d))
        downW = try buffer(Checked.product(d.d, d.f))
    }

    /// The reads that fill these buffers with the layer at `prefix` (e.g. "model.layers.3").
    func requests(_ prefix: String, _ ld: Loader) throws -> [WeightRead] {
        let d = ld.dims
        return [
            try ld.request("\(prefix).input_layernorm.weight", [d.d], into: inputNorm),
            try ld.request("\(prefix).self_attn.q_proj.weight", [d.qDim, d.d], into: qkvW),
            try ld.request("\(prefix).self_attn.k_proj.weight", [d.kvDim, d.d], into: qkvW, at: d.qDim * d.d),
            try ld.request("\(prefix).self_attn.v_proj.weight", [d.kvDim, d.d], into: qkvW, at: (d.qDim + d.kvDim) * d.d),
            try ld.request("\(prefix).self_attn.q_proj.bias", [d.qDim], into: qkvB),
            try ld.request("\(prefix).self_attn.k_proj.bias", [d.kvDim], into: qkvB, at: d.qDim),
            try ld.request("\(prefix).self_attn.v_proj.bias", [d.kvDim], into: qkvB, at: d.qDim + d.kvDim),
            try ld.request("\(prefix).self_attn.o_proj.weight", [d.d, d.qDim], into: oW),
            try ld.request("\(prefix).post_attention_layernorm.weight", [d.d], into: postNorm),
            try ld.request("\(prefix).mlp.gate_proj.weight", [d.f, d.d], into: gateUpW),
            try ld.request("\(prefix).mlp.up_proj.weight", [d.f, d.d], into: gateUpW, at: d.f * d.d),
            try ld.request("\(prefix).mlp.down_proj.weight", [d.d, d.f], into: downW),
        ]
    }

    /// Reads the layer at `prefix` into these buffers (the prefill reuses one set for all
    /// layers); returns its source bytes.
    @discardableResult
    func load(_ prefix: String, _ ld: Loader) throws -> Int {
        let reads = try requests(prefix, ld)
        try ld.source.read(reads)
        return ld.storedBytes(reads)
    }
}

/// A replica (timestep expert) layer: a decoder layer plus its output norms, modulation
/// and residual-attention gate.
final class ReplicaWeights {
    let decoder: DecoderWeights
    let attnOutNorm: FloatBuffer  // [D]
    let mlpOutNorm: FloatBuffer   // [D]
    let modW: FloatBuffer         // [4D, D]
    let modB: FloatBuffer         // [4D]
    let resW: FloatBuffer         // [H, D]
    let resB: FloatBuffer         // [H]
    /// Bytes of its tensors in the source.
    private(set) var sourceBytes: Int

    /// Buffers for layer `l`, their reads appended to `reads` (done by the caller).
    init(layer l: Int, _ ld: Loader, _ reads: inout [WeightRead]) throws {
        let d = ld.dims, p = "gen.layers.\(l)"
        let first = reads.count
        decoder = try DecoderWeights(d, ld.ledger, "layer '\(p)'")
        reads += try decoder.requests(p, ld)
        attnOutNorm = try ld.buffer("\(p).attn_out_norm.weight", [d.d], &reads)
        mlpOutNorm = try ld.buffer("\(p).mlp_out_norm.weight", [d.d], &reads)
        modW = try ld.buffer("\(p).modulation.weight", [4 * d.d, d.d], &reads)
        modB = try ld.buffer("\(p).modulation.bias", [4 * d.d], &reads)
        resW = try ld.buffer("\(p).res_gate.weight", [d.heads, d.d], &reads)
        resB = try ld.buffer("\(p).res_gate.bias", [d.heads], &reads)
        sourceBytes = ld.storedBytes(Array(reads[first...]))
    }

    /// The reads that fill these buffers (any replica layer's: all have the same shapes)
    /// with layer `l`; `sourceBytes` becomes that layer's.
    func requests(layer l: Int, _ ld: Loader) throws -> [WeightRead] {
        let d = ld.dims, p = "gen.layers.\(l)"
        let reads = try decoder.requests(p, ld) + [
            try ld.request("\(p).attn_out_norm.weight", [d.d], into: attnOutNorm),
            try ld.request("\(p).mlp_out_norm.weight", [d.d], into: mlpOutNorm),
            try ld.request("\(p).modulation.weight", [4 * d.d, d.d], into: modW),
            try ld.request("\(p).modulation.bias", [4 * d.d], into: modB),
            try ld.request("\(p).res_gate.weight", [d.heads, d.d], into: resW),
            try ld.request("\(p).res_gate.bias", [d.heads], into: resB),
        ]
        sourceBytes = ld.storedBytes(reads)
        return reads
    }

    /// The replica layers `layers` (one group), every buffer reserved first (or those of
    /// `spare`, a released group's, refilled: no new pages to fault in), then read in one
    /// `source.read` call (a source decodes such a batch on every core).
    static func group(layers: Range<Int>, _ ld: Loader, reusing spare: [ReplicaWeights]? = nil) throws -> [ReplicaWeights] {
        var reads: [WeightRead] = []
        let out: [ReplicaWeights]
        if let spare, spare.count == layers.count {
            for (w, l) in zip(spare, layers) { reads += try w.requests(layer: l, ld) }
            out = spare
        } else {
            out = try layers.map { try ReplicaWeights(layer: $0, ld, &reads) }
        }
        try ld.source.read(reads)
        return out
    }
}

/// The generation tensors every step uses: time embedding, patch embedding, image head.
final class SharedWeights {
    let te1W, te1B, te2W, te2B: FloatBuffer
    let patchW, patchB: FloatBuffer      // [D, C*p*p], [D]
    let headNorm, headModW, headModB, headProjW, headProjB: FloatBuffer

    init(_ ld: Loader) throws {
        let d = ld.dims
        te1W = try ld.tensor("time_embed.linear_1.weight", [d.d, d.freqDim])
        te1B = try ld.tensor("time_embed.linear_1.bias", [d.d])
        te2W = try ld.tensor("time_embed.linear_2.weight", [d.d, d.d])
        te2B = try ld.tensor("time_embed.linear_2.bias", [d.d])
        patchW = try ld.tensor("patch_embed.proj.weight", [d.d, d.channels, d.patch, d.patch])
        patchB = try ld.tensor("patch_embed.proj.bias", [d.d])
        headNorm = try ld.tensor("image_head.norm.weight", [d.d])
        headModW = try ld.tensor("image_head.modulation.weight", [2 * d.d, d.d])
        headModB = try ld.tensor("image_head.modulation.bias", [2 * d.d])
        headProjW = try ld.tensor("image_head.proj.weight", [d.patchDim, d.d])
        headProjB = try ld.tensor("image_head.proj.bias", [d.patchDim])
    }
}
