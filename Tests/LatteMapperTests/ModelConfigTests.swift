import LatteCore
@testable import LatteMapper
import Testing
import LatteTestSupport

@Suite struct ModelConfigTests {
    @Test func readsEveryFieldAndDerivesSizes() throws {
        let c = try ModelConfig(json: configJSON(["timestep_boundaries": .array([.double(0), .double(0.3), .int(1)])]))
        #expect(c.hiddenSize == 8 && c.intermediateSize == 16 && c.numHiddenLayers == 4)
        #expect(c.numAttentionHeads == 2 && c.numKeyValueHeads == 1 && c.vocabSize == 16)
        #expect(c.headDim == 4 && c.layersPerGroup == 2 && c.imageTokens == 4)
        #expect(c.timestepBoundaries == [0, 0.3, 1])
        #expect(c.latentSize == [4, 4] && c.timeEmbedFrequencyDim == 8 && c.residualAttention)
    }

    @Test func defaultBoundariesAreUniform() throws {
        #expect(try makeConfig(L: 8, K: 4).timestepBoundaries == [0, 0.25, 0.5, 0.75, 1])
        #expect(try makeConfig(L: 3, K: 3).timestepBoundaries == [0, 1.0 / 3, 2.0 / 3, 1])
        #expect(try ModelConfig(json: configJSON(["timestep_boundaries": .null])).timestepBoundaries == [0, 0.5, 1])
    }

    @Test func optionalFieldsTakeTheReferenceDefaults() throws {
        let c = try ModelConfig(json: configJSON(remove: ["rms_norm_eps", "rope_theta", "num_timestep_groups", "residual_attention"]))
        #expect(c.rmsNormEps == 1e-6)
        #expect(c.ropeTheta == 10000)
        #expect(c.numTimestepGroups == 1)
        #expect(c.timestepBoundaries == [0, 1])
        #expect(c.residualAttention)
    }

    @Test func refusesGroupsNotDividingLayers() {
        #expect(throws: ModelConfigError.groupsDoNotDivideLayers(layers: 6, groups: 4)) {
            try makeConfig(L: 6, K: 4)
        }
        #expect(throws: ModelConfigError.groupsDoNotDivideLayers(layers: 4, groups: 8)) {
            try makeConfig(L: 4, K: 8)
        }
        #expect("\(ModelConfigError.groupsDoNotDivideLayers(layers: 6, groups: 4))" == "num_timestep_groups 4 does not divide num_hidden_layers 6")
    }

    @Test func refusesKeyValueHeadsNotDividingHeads() {
        #expect(throws: ModelConfigError.kvHeadsDoNotDivideHeads(heads: 4, kvHeads: 3)) {
            try ModelConfig(json: configJSON(["num_attention_heads": .int(4), "num_key_value_heads": .int(3)]))
        }
    }

    @Test func refusesHeadsNotDividingWidthAndOddHeadDim() {
        #expect(throws: ModelConfigError.headsDoNotDivideHidden(hidden: 8, heads: 3)) {
            try ModelConfig(json: configJSON(["num_attention_heads": .int(3), "num_key_value_heads": .int(1)]))
        }
        #expect(throws: ModelConfigError.oddHeadDim(1)) {
            try ModelConfig(json: configJSON(["num_attention_heads": .int(8), "num_key_value_heads": .int(1)]))
        }
    }

    @Test(arguments: [
        [0.0, 1.0],               // too few for K = 2
        [0.0, 0.5, 0.7, 1.0],     // too many
        [0.1, 0.5, 1.0],          // does not start at 0
        [0.0, 0.5, 0.9],          // does not end at 1
        [0.0, 0.5, 0.5, 1.0],     // not increasing (with K = 3 below)
        [0.0, 0.7, 0.3, 1.0],     // decreasing
        [0.0, -0.5, 1.0],         // outside [0, 1]
    ])
    func refusesBadBoundaries(_ b: [Double]) {
        let K = b.count == 4 && (b[1] == b[2] || b[1] > b[2]) ? 3 : 2
        let L = K == 3 ? 6 : 4
        #expect(throws: ModelConfigError.badBoundaries(b, groups: K)) {
            try makeConfig(L: L, K: K, boundaries: b)
        }
    }

    @Test func refusesNonNumericBoundaries() {
        #expect(throws: ModelConfigError.self) {
            try ModelConfig(json: configJSON(["timestep_boundaries": .array([.int(0), .string("half"), .int(1)])]))
        }
        #expect(throws: ModelConfigError.self) {
            try ModelConfig(json: configJSON(["timestep_boundaries": .string("uniform")]))
        }
    }

    @Test func refusesPatchNotDividingLatent() {
        #expect(throws: ModelConfigError.patchDoesNotDivideLatent(patch: 3, latent: [6, 4])) {
            try ModelConfig(json: configJSON(["patch_size": .int(3), "latent_size": .array([.int(6), .int(4)])]))
        }
        #expect(throws: ModelConfigError.patchDoesNotDivideLatent(patch: 2, latent: [4, 5])) {
            try ModelConfig(json: configJSON(["latent_size": .array([.int(4), .int(5)])]))
        }
    }

    /// Another model_type, or none at all, is another model's config.
    @Test func refusesAnotherModelsConfig() {
        #expect(throws: ModelConfigError.notLatteFlow(modelType: "qwen2_vl")) {
            try ModelConfig(json: configJSON(["model_type": .string("qwen2_vl")]))
        }
        #expect(throws: ModelConfigError.notLatteFlow(modelType: "7")) {
            try ModelConfig(json: configJSON(["model_type": .int(7)]))
        }
        #expect(throws: ModelConfigError.notLatteFlow(modelType: nil)) {
            try ModelConfig(json: configJSON(remove: ["model_type"]))
        }
        #expect(!ModelConfig.isLatteFlow(configJSON(remove: ["model_type"])))
        #expect(ModelConfig.isLatteFlow(configJSON()))
        #expect("\(ModelConfigError.notLatteFlow(modelType: "qwen2_vl"))" == "not a LaTtE-Flow config: model_type is 'qwen2_vl' (expected 'latte_flow')")
        #expect("\(ModelConfigError.notLatteFlow(modelType: nil))" == "not a LaTtE-Flow config: it has no 'model_type' (expected 'latte_flow')")
    }

    @Test func refusesMissingAndBadValues() {
        #expect(throws: ModelConfigError.missing("hidden_size")) { try ModelConfig(json: configJSON(remove: ["hidden_size"])) }
        #expect(throws: ModelConfigError.self) { try ModelConfig(json: configJSON(["hidden_size": .int(0)])) }
        #expect(throws: ModelConfigError.self) { try ModelConfig(json: configJSON(["hidden_size": .double(8.5)])) }
        #expect(throws: ModelConfigError.self) { try ModelConfig(json: configJSON(["residual_attention": .string("yes")])) }
        #expect(throws: ModelConfigError.self) { try ModelConfig(json: configJSON(["latent_size": .array([.int(4)])])) }
        #expect(throws: ModelConfigError.self) { try ModelConfig(json: configJSON(["time_embed_frequency_dim": .int(7)])) }
        #expect(throws: ModelConfigError.notObject) { try ModelConfig(json: .array([])) }
    }

    @Test func refusesSizesThatWouldOverflowShapes() {
        #expect(throws: ModelConfigError.self) {
            try ModelConfig(json: configJSON(["hidden_size": .int(1 << 40), "num_attention_heads": .int(2)]))
        }
        #expect(throws: ModelConfigError.self) {
            try ModelConfig(json: configJSON(["num_hidden_layers": .int(1 << 30), "num_timestep_groups": .int(1)]))
        }
        #expect(throws: ModelConfigError.self) {
            try ModelConfig(json: configJSON(["patch_size": .int(1 << 30), "latent_size": .array([.int(1 << 30), .int(1 << 30)])]))
        }
    }

    @Test func groupOfTimestepAtExactBoundaries() throws {
        let uneven = try makeConfig(L: 4, K: 2, boundaries: [0, 0.3, 1])
        #expect(uneven.group(ofTimestep: 0) == 0)
        #expect(uneven.group(ofTimestep: 0.3.nextDown) == 0)
        #expect(uneven.group(ofTimestep: 0.3) == 1)
        #expect(uneven.group(ofTimestep: 1) == 1)

        let uniform = try makeConfig(L: 8, K: 4)
        // Sampling timesteps i/S in float64: with S = 40, i = 10, 20, 30 fall exactly on k/4.
        let S = 40
        let groups = (0 ..< S).map { uniform.group(ofTimestep: Double($0) / Double(S)) }
        #expect(groups == Array(repeating: 0, count: 10) + Array(repeating: 1, count: 10)
            + Array(repeating: 2, count: 10) + Array(repeating: 3, count: 10))
        #expect(uniform.group(ofTimestep: 1.0) == 3) // capped at K-1

        let thirds = try makeConfig(L: 3, K: 3)
        #expect(thirds.group(ofTimestep: 2.0 / 6.0) == 1) // 2/6 is the same double as 1/3
        #expect(thirds.group(ofTimestep: (1.0 / 3.0).nextDown) == 0)
        #expect(thirds.group(ofTimestep: 4.0 / 6.0) == 2)

        let vanilla = try makeConfig(L: 4, K: 1)
        #expect([0.0, 0.5, 0.999, 1.0].map(vanilla.group(ofTimestep:)) == [0, 0, 0, 0])
    }

    @Test func loadNamesTheFileInErrors() throws {
        let dir = TempDir().path
        let path = dir + "/config.json"
        try "{\"model_type\": \"latte_flow\", ".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ModelConfig.load(path: path)
            Issue.record("a truncated config was accepted")
        } catch {
            #expect("\(error)".hasPrefix(path + ": config is not valid JSON"))
        }
    }
}
