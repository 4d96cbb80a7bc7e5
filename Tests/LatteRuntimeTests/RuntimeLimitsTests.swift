import Foundation
import Testing
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// Every size the runtime takes from a file or the command line has a limit, checked before
/// anything is allocated for it, with an error naming the file, the tensor or option, the
/// value and the limit.
@Suite struct RuntimeLimitsTests {
    @Test func contextLengthAtAndAboveTheLimit() throws {
        let config = try Fixtures.model("k2").config   // vocab 64
        let limit = RuntimeLimits.maxContextTokens
        let atLimit = writeInputs([("context_ids", .i32, [limit], bytes([Int32](repeating: 1, count: limit)))])
        #expect(try RunInputs.load(path: atLimit, config: config).contextIDs.count == limit)
        let over = writeInputs([("context_ids", .i32, [limit + 1], bytes([Int32](repeating: 1, count: limit + 1)))])
        #expect(errorText { _ = try RunInputs.load(path: over, config: config) }
            == "\(over): tensor 'context_ids': 32769 tokens, above the limit of 32768 context tokens")
        let uncond = writeInputs([("context_ids", .i32, [1], bytes([Int32(1)])),
                                 ("uncond_ids", .i64, [limit + 1], bytes([Int64](repeating: 1, count: limit + 1)))])
        #expect(errorText { _ = try RunInputs.load(path: uncond, config: config) }.contains("tensor 'uncond_ids': 32769 tokens, above the limit"))
        // The prefill API checks it too, whoever calls it.
        let model = try Fixtures.model("k2")
        #expect(throws: RuntimeError.badInput(tensor: "context_ids", reason: "32769 tokens, above the limit of 32768 context tokens")) {
            _ = try model.prefill(ids: [Int](repeating: 1, count: limit + 1))
        }
    }

    @Test func hostileContextFilesAreRefusedByTheirLength() throws {
        let config = try ModelConfig.load(path: Fixtures.hostile + "/model/config.json")
        let ctx = Fixtures.hostile + "/inputs_ctx_60000.safetensors"
        #expect(errorText { _ = try RunInputs.load(path: ctx, config: config) }
            == "\(ctx): tensor 'context_ids': 60000 tokens, above the limit of 32768 context tokens")
        let uncond = Fixtures.hostile + "/inputs_uncond_40000.safetensors"
        #expect(errorText { _ = try RunInputs.load(path: uncond, config: config) }.contains("'uncond_ids': 40000 tokens"))
        let xt = Fixtures.hostile + "/inputs_xt_1025.safetensors"
        #expect(errorText { _ = try RunInputs.load(path: xt, config: config) }
            == "\(xt): tensor 'x_t': 1025 velocity evaluations, above the limit of 1024")
    }

    @Test func velocityEvaluationsAtTheLimit() throws {
        let config = try Fixtures.model("k2").config   // latent [4, 4, 6]
        let n = RuntimeLimits.maxVelocityEvaluations, per = 4 * 4 * 6
        let path = writeInputs([("context_ids", .i32, [1], bytes([Int32(1)])),
                               ("x_t", .f32, [n, 4, 4, 6], bytes([Float](repeating: 0, count: n * per))),
                               ("timesteps", .f32, [n], bytes([Float](repeating: 0.5, count: n)))])
        #expect(try RunInputs.load(path: path, config: config).timesteps?.count == n)
    }

    @Test func stepsAndGuidance() throws {
        #expect(throws: Never.self) { try RuntimeLimits.checkSteps(10_000, "--steps") }
        #expect(throws: RuntimeError.overLimit("--steps is 10001, above the limit of 10000 steps")) {
            try RuntimeLimits.checkSteps(10_001, "--steps")
        }
        #expect(throws: RuntimeError.overLimit("--steps must be at least 1, found 0")) { try RuntimeLimits.checkSteps(0, "--steps") }
        #expect(throws: Never.self) { try RuntimeLimits.checkGuidance(-100, "--cfg-scale") }
        #expect(throws: RuntimeError.overLimit("--cfg-scale is 100.5, outside the limit of -100.0 ... 100.0")) {
            try RuntimeLimits.checkGuidance(100.5, "--cfg-scale")
        }
        #expect(errorText { try RuntimeLimits.checkGuidance(.infinity, "--cfg-scale") }.contains("must be a finite number"))
        // The run API refuses them too, before the prefill.
        let model = try Fixtures.model("k2")
        let inputs = RunInputs(contextIDs: [1], noise: [Float](repeating: 0, count: 96))
        #expect(throws: RuntimeError.overLimit("steps is 1000000000, above the limit of 10000 steps")) {
            _ = try LatteRun.execute(model: model, inputs: inputs, steps: 1_000_000_000)
        }
        #expect(model.ledger.held == model.ledger.peak, "nothing was allocated for the refused run")
        #expect(errorText { _ = try model.sample(noise: inputs.noise!, steps: 10_001, context: model.prefill(ids: [1])) }
            .contains("above the limit of 10000 steps"))
    }

    @Test func imageTokensFromTheLatentSize() throws {
        let base = try Fixtures.model("k2").config   // patch 2
        var config = base
        config.latentSize = [256, 256]   // 128 x 128 = 16384 tokens: the limit
        #expect(throws: Never.self) { try RuntimeLimits.check(config) }
        config.latentSize = [258, 256]
        #expect(throws: RuntimeError.overLimit("config 'latent_size' [258, 256] with patch_size 2 makes 16512 image tokens, above the limit of 16384")) {
            try RuntimeLimits.check(config)
        }
        // A model is not built on such a config, before any weight is read.
        let checkpoint = try CheckpointReader.open(path: "\(Fixtures.models)/k2")
        let source = RecordingSource(DecodingWeightSource(checkpoint))
        #expect(errorText { _ = try LatteModel(config: config, weights: source) }.contains("16512 image tokens, above the limit"))
        #expect(source.reads.isEmpty)
        // The hostile 2^20 x 2^20 latent (2^40 tokens, 2^80-element maps) is refused the same way.
        let huge = try ModelConfig.load(path: Fixtures.hostile + "/model_latent_2p40/config.json")
        #expect(throws: RuntimeError.overLimit("config 'latent_size' [1048576, 1048576] with patch_size 1 makes 1099511627776 image tokens, above the limit of 16384")) {
            try RuntimeLimits.check(huge)
        }
    }

    @Test func widthsMustBeThoseOfTheWeightsPresent() throws {
        // hidden_size 4096 over weights of width 8: refused at the first tensor, nothing allocated for it.
        let folder = Fixtures.hostile + "/model_hidden_4096"
        let config = try ModelConfig.load(path: folder + "/config.json")
        let source = RecordingSource(DecodingWeightSource(try CheckpointReader.open(path: folder)))
        #expect(throws: RuntimeError.wrongShape(tensor: "model.embed_tokens.weight", expected: [16, 4096], found: [16, 8])) {
            _ = try LatteModel(config: config, weights: source)
        }
        #expect(source.reads.isEmpty)
    }

    @Test func runSettingsAreCheckedAgainstTheLimits() throws {
        func settings(_ json: String) -> String {
            errorText { _ = try ReferenceSet.runSettings(JSON.parse(json), origin: "run.json") }
        }
        #expect(settings(#"{"steps": 100000, "cfg_scale": 3}"#) == "run.json: 'steps' is 100000, above the limit of 10000 steps")
        #expect(settings(#"{"steps": "100000"}"#) == #"run.json: 'steps' must be an integer, found "100000""#)
        #expect(settings(#"{"steps": 8.5}"#) == "run.json: 'steps' must be an integer, found 8.5")
        #expect(settings(#"{"steps": 0}"#) == "run.json: 'steps' must be at least 1, found 0")
        #expect(settings(#"{"cfg_scale": 1e30}"#) == "run.json: 'cfg_scale' is 1e+30, outside the limit of -100.0 ... 100.0")
        #expect(settings(#"{"cfg_scale": "3"}"#) == #"run.json: 'cfg_scale' must be a number, found "3""#)
        #expect(settings("[8]") == "run.json: must be a JSON object")
        let ok = try ReferenceSet.runSettings(JSON.parse(#"{"steps": 10000, "cfg_scale": -100}"#), origin: "run.json")
        #expect(ok.0 == 10000 && ok.1 == -100)
        let defaults = try ReferenceSet.runSettings(JSON.parse("{}"), origin: "run.json")
        #expect(defaults.0 == 40 && defaults.1 == 1)
    }

    @Test func hostileRunSettingsFolders() throws {
        let steps = Fixtures.hostile + "/ref_steps_100000"
        #expect(errorText { _ = try ReferenceSet.load(folder: steps) } == "\(steps)/run.json: 'steps' is 100000, above the limit of 10000 steps")
        let cfg = Fixtures.hostile + "/ref_cfg_1e6"
        #expect(errorText { _ = try ReferenceSet.load(folder: cfg) }.contains("'cfg_scale' is 1000000.0, outside the limit"))
    }
}
