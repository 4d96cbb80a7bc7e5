import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

@Suite struct ValidationTests {
    func plan(_ tensors: [TensorDescriptor], _ config: ModelConfig, allowExtra: Bool = false) throws(PlanError) -> ExpertGroupPlan {
        try ExpertGroupPlan(config: config, tensors: tensors, allowExtra: allowExtra)
    }

    @Test func refusesAMissingReplicaTensorNamingIt() throws {
        let config = try makeConfig(L: 4, K: 2)
        let tensors = completeTensors(config).filter { $0.name != "gen.layers.3.mlp.up_proj.weight" }
        #expect(throws: PlanError.missing([.init(name: "gen.layers.3.mlp.up_proj.weight", expectedShape: [16, 8])])) {
            try plan(tensors, config)
        }
        let e = PlanError.missing([.init(name: "gen.layers.3.mlp.up_proj.weight", expectedShape: [16, 8])])
        #expect(e.description == "missing tensor 'gen.layers.3.mlp.up_proj.weight' (expected shape [16, 8])")
        #expect(e.tensor == "gen.layers.3.mlp.up_proj.weight")
    }

    @Test func refusesAMissingBiasAndGate() throws {
        let config = try makeConfig(L: 4, K: 2)
        let gone: Set = ["model.layers.0.self_attn.k_proj.bias", "gen.layers.1.res_gate.bias"]
        let tensors = completeTensors(config).filter { !gone.contains($0.name) }
        #expect(throws: PlanError.missing([
            .init(name: "model.layers.0.self_attn.k_proj.bias", expectedShape: [4]),
            .init(name: "gen.layers.1.res_gate.bias", expectedShape: [2]),
        ])) { try plan(tensors, config) }
    }

    @Test func refusesAWrongShapeNamingItWithExpectedAndFound() throws {
        let config = try makeConfig(L: 4, K: 2)
        var tensors = completeTensors(config)
        let i = tensors.firstIndex { $0.name == "gen.layers.2.self_attn.k_proj.weight" }!
        tensors[i].shape = [8, 8]
        #expect(throws: PlanError.wrongShape(tensor: "gen.layers.2.self_attn.k_proj.weight", canonical: nil, expected: [4, 8], found: [8, 8])) {
            try plan(tensors, config)
        }
        let message = PlanError.wrongShape(tensor: "gen.layers.2.self_attn.k_proj.weight", canonical: nil, expected: [4, 8], found: [8, 8]).description
        #expect(message == "tensor 'gen.layers.2.self_attn.k_proj.weight': expected shape [4, 8] from the config, found [8, 8]")
    }

    @Test func refusesATransposedProjectionAndARankChange() throws {
        let config = try ModelConfig(json: configJSON(["intermediate_size": .int(24)]))
        var tensors = completeTensors(config)
        let down = tensors.firstIndex { $0.name == "model.layers.1.mlp.down_proj.weight" }!
        tensors[down].shape = [24, 8] // transposed [D, F]
        let patch = tensors.firstIndex { $0.name == "patch_embed.proj.weight" }!
        tensors[patch].shape = [8, 8] // flattened convolution
        #expect(throws: PlanError.several([
            .wrongShape(tensor: "model.layers.1.mlp.down_proj.weight", canonical: nil, expected: [8, 24], found: [24, 8]),
            .wrongShape(tensor: "patch_embed.proj.weight", canonical: nil, expected: [8, 2, 2, 2], found: [8, 8]),
        ])) { try plan(tensors, config) }
    }

    @Test(arguments: [DType.i32, .i64, .u8, .bool, .f8e4m3, .c64])
    func refusesNonFloatingDTypes(_ dtype: DType) throws {
        let config = try makeConfig(L: 2, K: 1)
        var tensors = completeTensors(config)
        let i = tensors.firstIndex { $0.name == "time_embed.linear_2.bias" }!
        tensors[i].dtype = dtype
        #expect(throws: PlanError.wrongDType(tensor: "time_embed.linear_2.bias", canonical: nil, found: dtype)) {
            try plan(tensors, config)
        }
    }

    @Test(arguments: [DType.f32, .f16, .bf16, .f64])
    func acceptsTheFloatingDTypesMixed(_ dtype: DType) throws {
        let config = try makeConfig(L: 2, K: 2)
        var tensors = completeTensors(config, dtype: .bf16)
        for i in tensors.indices where i % 3 == 0 { tensors[i].dtype = dtype }
        let p = try plan(tensors, config)
        #expect(p.tensors.count == tensors.count)
    }

    @Test func listsUnknownTensors() throws {
        let config = try makeConfig(L: 4, K: 2)
        let tensors = completeTensors(config) + [
            TensorDescriptor(name: "lm_head.weight", dtype: .f32, shape: [16, 8]),
            TensorDescriptor(name: "gen.layers.4.input_layernorm.weight", dtype: .f32, shape: [8]),
            TensorDescriptor(name: "model.layers.0.self_attn.o_proj.bias", dtype: .f32, shape: [8]),
        ]
        let expected = PlanError.unexpected([
            .init(source: "lm_head.weight", canonical: nil, hint: nil),
            .init(source: "gen.layers.4.input_layernorm.weight", canonical: nil, hint: "layer 4 is beyond num_hidden_layers 4"),
            .init(source: "model.layers.0.self_attn.o_proj.bias", canonical: nil, hint: nil),
        ])
        #expect(throws: expected) { try plan(tensors, config) }
        let message = expected.description
        #expect(message.hasPrefix("3 unexpected tensors: 'lm_head.weight', 'gen.layers.4.input_layernorm.weight' (layer 4 is beyond num_hidden_layers 4), 'model.layers.0.self_attn.o_proj.bias'"))
        #expect(message.contains("--allow-extra"))
    }

    @Test func allowExtraKeepsUnknownTensorsInTheirOwnSection() throws {
        let config = try makeConfig(L: 4, K: 2)
        let tensors = completeTensors(config) + [
            TensorDescriptor(name: "lm_head.weight", dtype: .f32, shape: [16, 8]),
            TensorDescriptor(name: "step", dtype: .i64, shape: []),
        ]
        let p = try plan(tensors, config, allowExtra: true)
        #expect(p.extra.map(\.sourceName) == ["lm_head.weight", "step"])
        #expect(p.sectionPlan.placements["lm_head.weight"] == TensorPlacement(section: .extra, role: .extra))
        #expect(p.sectionPlan.placements["step"]?.section == .extra)
        #expect(p.planJSON["extra"] == .array([.string("lm_head.weight"), .string("step")]))
        #expect(p.tensors.count == tensors.count)
        // Extra never excuses a missing or misshapen model tensor.
        let missing = Array(tensors.dropFirst())
        #expect(throws: PlanError.missing([.init(name: "model.embed_tokens.weight", expectedShape: [16, 8])])) {
            try plan(missing, config, allowExtra: true)
        }
    }

    @Test func reportsSeveralProblemsAtOnce() throws {
        let config = try makeConfig(L: 2, K: 2)
        var tensors = completeTensors(config).filter { $0.name != "gen.layers.0.res_gate.weight" }
        tensors[1].shape = [3]
        tensors.append(TensorDescriptor(name: "foo", dtype: .f32, shape: [1]))
        let error = #expect(throws: PlanError.self) { try plan(tensors, config) }
        guard case let .several(list)? = error else {
            Issue.record("expected several problems, got \(String(describing: error))")
            return
        }
        #expect(list == [
            .missing([.init(name: "gen.layers.0.res_gate.weight", expectedShape: [2, 8])]),
            .wrongShape(tensor: "model.layers.0.input_layernorm.weight", canonical: nil, expected: [8], found: [3]),
            .unexpected([.init(source: "foo")]),
        ])
        #expect(PlanError.several(list).description.hasPrefix("3 problems: missing tensor 'gen.layers.0.res_gate.weight'"))
    }

    @Test func refusesDuplicateNames() throws {
        let config = try makeConfig(L: 2, K: 1)
        let tensors = completeTensors(config) + [TensorDescriptor(name: "model.norm.weight", dtype: .f32, shape: [8])]
        #expect(throws: PlanError.nameCollision(canonical: "model.norm.weight", sources: ["model.norm.weight", "model.norm.weight"])) {
            try plan(tensors, config)
        }
    }

    @Test func aMissingTensorInAFileIsRefusedWithThePath() throws {
        let config = try makeConfig(L: 4, K: 2)
        let dir = writeCheckpoint(completeTensors(config).filter { $0.name != "gen.layers.1.self_attn.v_proj.bias" }, config: config.json)
        #expect {
            try MappedCheckpoint(source: dir)
        } throws: { error in
            "\(error)" == dir + ": missing tensor 'gen.layers.1.self_attn.v_proj.bias' (expected shape [4])"
        }
    }
}
