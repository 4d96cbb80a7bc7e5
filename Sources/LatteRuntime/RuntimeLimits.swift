import LatteMapper

/// The largest sizes the runtime accepts from a config, an inputs file, a `run.json` or the
/// command line. Each is far above the fixtures and the models this runtime is for (the
/// paper's Qwen2-VL-2B decoder, 7B-class widths) and far below what a 2-core machine could
/// finish: past them a request is refused with an `error:` line before anything is
/// allocated. Sizes the weights fix (widths, heads, layers, vocabulary) need no limit of
/// their own: they are checked against the weights actually present, and what they cost is
/// counted against the memory budget (`RunEstimate`).
public enum RuntimeLimits {
    /// Tokens per context (`context_ids`, `uncond_ids`): Qwen2-VL's `max_position_embeddings`,
    /// beyond which RoPE positions leave the range the decoder was trained on. Realistic
    /// prompts are tens to a few thousand tokens. The prefill's attention is computed in row
    /// blocks, so memory grows with T, not T².
    public static let maxContextTokens = 32_768
    /// Image tokens N = (h/p)·(w/p): 2048×2048 pixels at a VAE factor of 8 and patch 2
    /// (1024×1024, the usual resolution, is 4096). TC-ResAttn keeps two H×N×N maps, so N
    /// also meets the memory budget: at the limit with 12 heads they are 25.8 GB.
    public static let maxImageTokens = 16_384
    /// Euler steps (`--steps`, `run.json`): flow samplers use 20 to 50 (default 40); 10,000
    /// is beyond any accuracy study and still a bounded loop.
    public static let maxSteps = 10_000
    /// |guidance scale| (`--cfg-scale`, `run.json` `cfg_scale`): practice is 1 to 15; past
    /// 100 the guided velocity is dominated by amplified float32 noise.
    public static let maxGuidanceScale: Float = 100
    /// Velocity evaluations per run (`x_t` [n, C, h, w] with `timesteps` [n]): the fixtures use
    /// 4 to 10; each costs as much as one sampling step.
    public static let maxVelocityEvaluations = 1_024

    /// `steps` (named `what` in the message, e.g. `--steps`) within 1 ... maxSteps.
    public static func checkSteps(_ steps: Int, _ what: String) throws(RuntimeError) {
        guard steps >= 1 else { throw .overLimit("\(what) must be at least 1, found \(steps)") }
        guard steps <= maxSteps else { throw .overLimit("\(what) is \(steps), above the limit of \(maxSteps) steps") }
    }

    /// A guidance scale within ±maxGuidanceScale.
    public static func checkGuidance(_ g: Float, _ what: String) throws(RuntimeError) {
        guard g.isFinite else { throw .overLimit("\(what) must be a finite number, found \(g)") }
        guard abs(g) <= maxGuidanceScale else {
            throw .overLimit("\(what) is \(g), outside the limit of -\(maxGuidanceScale) ... \(maxGuidanceScale)")
        }
    }

    /// The sizes of `config` the weights do not fix: the latent, through its image tokens.
    public static func check(_ config: ModelConfig) throws(RuntimeError) {
        let h = config.latentSize[0], w = config.latentSize[1], p = config.patchSize
        let (n, overflow) = (h / p).multipliedReportingOverflow(by: w / p)
        guard !overflow, n <= maxImageTokens else {
            throw .overLimit("config 'latent_size' \(config.latentSize) with patch_size \(p) makes "
                + (overflow ? "more than \(Int.max)" : "\(n)") + " image tokens, above the limit of \(maxImageTokens)")
        }
    }

    /// A context of `count` tokens in input tensor `tensor`.
    static func checkContext(_ count: Int, tensor: String) throws(RuntimeError) {
        guard count <= maxContextTokens else {
            throw .badInput(tensor: tensor, reason: "\(count) tokens, above the limit of \(maxContextTokens) context tokens")
        }
    }
}
