import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

@Suite struct ExpertGroupPlanTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var L: Int, K: Int
        var boundaries: [Double]?
        var expectedIntervals: [[Double]]
        var testDescription: String { "L=\(L) K=\(K) boundaries=\(boundaries.map { "\($0)" } ?? "uniform")" }
    }

    static let cases: [Case] = [
        Case(L: 4, K: 1, boundaries: nil, expectedIntervals: [[0, 1]]),
        Case(L: 4, K: 2, boundaries: nil, expectedIntervals: [[0, 0.5], [0.5, 1]]),
        Case(L: 4, K: 2, boundaries: [0, 0.3, 1], expectedIntervals: [[0, 0.3], [0.3, 1]]),
        Case(L: 4, K: 4, boundaries: nil, expectedIntervals: [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]]),
        Case(L: 6, K: 3, boundaries: [0, 0.1, 0.65, 1], expectedIntervals: [[0, 0.1], [0.1, 0.65], [0.65, 1]]),
        Case(L: 8, K: 2, boundaries: [0, 0.9, 1], expectedIntervals: [[0, 0.9], [0.9, 1]]),
        Case(L: 1, K: 1, boundaries: nil, expectedIntervals: [[0, 1]]),
    ]

    @Test(arguments: cases)
    func groupsLayersAndGates(_ c: Case) throws {
        let config = try makeConfig(L: c.L, K: c.K, boundaries: c.boundaries)
        let plan = try ExpertGroupPlan(config: config, tensors: completeTensors(config))
        let M = c.L / c.K
        #expect(plan.groups.count == c.K)
        #expect(plan.groups.map { [$0.timestepStart, $0.timestepEnd] } == c.expectedIntervals)
        for (k, g) in plan.groups.enumerated() {
            #expect(g.index == k)
            #expect(g.layers == Array(k * M ..< (k + 1) * M))
            #expect(g.replicaLayers.map(\.layer) == g.layers)
            for r in g.replicaLayers {
                #expect(r.group == k)
                #expect(r.gate == "gen.layers.\(r.layer).res_gate")
                #expect(r.gateTensors.map(\.name) == ["gen.layers.\(r.layer).res_gate.weight", "gen.layers.\(r.layer).res_gate.bias"])
                // The first layer of a group reuses nothing; the others reuse the previous layer.
                #expect(r.reusesLayer == (r.layer == k * M ? nil : r.layer - 1))
                #expect(r.gateIsActive == (r.layer != k * M))
                // 12 decoder-layer tensors + 4 replica-only ones, every one under this layer's prefix.
                #expect(r.tensors.count == 16)
                #expect(r.allTensors.allSatisfy { $0.name.hasPrefix("gen.layers.\(r.layer).") })
            }
        }
        // Group of a timestep agrees with the intervals.
        for g in plan.groups {
            #expect(plan.group(ofTimestep: g.timestepStart) == g.index)
            #expect(plan.group(ofTimestep: g.timestepEnd.nextDown) == g.index)
        }
        #expect(plan.contextLayers.map(\.layer) == Array(0 ..< c.L))
        #expect(plan.contextLayers.allSatisfy { $0.tensors.count == 12 })
        #expect(plan.contextGlobals.map(\.name).sorted() == ["model.embed_tokens.weight", "model.norm.weight"])
        #expect(plan.shared.count == 11)
        #expect(plan.extra.isEmpty)
    }

    @Test(arguments: cases)
    func everyTensorLandsInExactlyOnePlace(_ c: Case) throws {
        let config = try makeConfig(L: c.L, K: c.K, boundaries: c.boundaries)
        let input = completeTensors(config)
        let plan = try ExpertGroupPlan(config: config, tensors: input.shuffled())
        let names = plan.tensors.map(\.sourceName)
        #expect(names.count == input.count)
        #expect(Set(names) == Set(input.map(\.name)))
        #expect(Set(names).count == names.count)
        // The spec's count: 2 context globals, 12 per context layer, 18 per replica layer, 11 shared.
        #expect(input.count == 2 + 12 * c.L + 18 * c.L + 11)
        let sections = plan.sectionPlan.placements
        #expect(sections.count == input.count)
    }

    @Test func sectionPlanPlacesAndNamesRoles() throws {
        let config = try makeConfig(L: 4, K: 2)
        let plan = try ExpertGroupPlan(config: config, tensors: completeTensors(config))
        let p = plan.sectionPlan.placements
        #expect(p["model.embed_tokens.weight"] == TensorPlacement(section: .shared, role: .context))
        #expect(p["model.norm.weight"] == TensorPlacement(section: .shared, role: .context))
        #expect(p["model.layers.3.mlp.up_proj.weight"] == TensorPlacement(section: .shared, role: .context, layer: 3))
        #expect(p["time_embed.linear_1.weight"] == TensorPlacement(section: .shared, role: .shared))
        #expect(p["image_head.proj.bias"] == TensorPlacement(section: .shared, role: .shared))
        #expect(p["gen.layers.0.self_attn.q_proj.weight"] == TensorPlacement(section: .group(0), role: .replica, layer: 0))
        #expect(p["gen.layers.2.modulation.bias"] == TensorPlacement(section: .group(1), role: .replica, layer: 2))
        #expect(p["gen.layers.3.res_gate.weight"] == TensorPlacement(section: .group(1), role: .resGate, layer: 3))
        #expect(p["gen.layers.1.res_gate.bias"] == TensorPlacement(section: .group(0), role: .resGate, layer: 1))
        #expect(plan.sectionPlan.planJSON == plan.planJSON)
        // Group sections hold exactly the group's replica layers.
        for g in plan.groups {
            let inGroup = p.filter { $0.value.section == .group(g.index) }.map(\.key)
            #expect(Set(inGroup) == Set(g.tensors.map(\.sourceName)))
            #expect(Set(inGroup.compactMap { p[$0]?.layer }) == Set(g.layers))
        }
    }

    @Test func residualAttentionOffMakesEveryGateInactive() throws {
        let config = try makeConfig(L: 4, K: 2, residualAttention: false)
        let plan = try ExpertGroupPlan(config: config, tensors: completeTensors(config))
        #expect(plan.replicaLayers.allSatisfy { $0.reusesLayer == nil && !$0.gateIsActive })
        // The gates are still part of the checkpoint and of their group.
        #expect(plan.replicaLayers.allSatisfy { $0.gateTensors.count == 2 })
    }

    @Test func groupSizesParametersAndBytes() throws {
        let config = try makeConfig(L: 4, K: 2)
        let plan = try ExpertGroupPlan(config: config, tensors: completeTensors(config, dtype: .bf16))
        // D=8, F=16, H=2, Hkv=1, hd=4: a decoder layer has
        // 8 + (8*8+8) + (4*8+4)*2 + 8*8 + 8 + 16*8*3 = 608 parameters; a replica layer adds
        // 8 + 8 + (32*8+32) + (2*8+2) = 322.
        let replica = 608 + 322
        for g in plan.groups {
            #expect(g.parameters == 2 * replica)
            #expect(g.bytes == 2 * replica * 2)
        }
        #expect(plan.context.parameters == 16 * 8 + 4 * 608 + 8)
        // time_embed 8*8+8+8*8+8, patch_embed 8*2*2*2+8, image_head 8 + 16*8+16 + 8*8+8
        #expect(plan.shared.parameters == (64 + 8 + 64 + 8) + (64 + 8) + (8 + 128 + 16 + 64 + 8))
        #expect(plan.activeParameters == plan.context.parameters + plan.shared.parameters + 2 * replica)
        #expect(plan.tensors.bytes == 2 * plan.tensors.parameters)
    }

    @Test func plansAReadCheckpoint() throws {
        let config = try makeConfig(L: 4, K: 2, boundaries: [0, 0.3, 1])
        let dir = writeCheckpoint(completeTensors(config, dtype: .f16).reversed(), config: config.json)
        let mapped = try MappedCheckpoint(source: dir)
        #expect(mapped.configPath == dir + "/config.json")
        #expect(mapped.plan.config == config)
        #expect(mapped.plan.groups.map(\.layers) == [[0, 1], [2, 3]])
        #expect(mapped.plan.tensors.allSatisfy { $0.dtype == .f16 })
        // The plan's order is the spec's, whatever the file's.
        let direct = try ExpertGroupPlan(config: config, tensors: completeTensors(config, dtype: .f16))
        #expect(mapped.plan.planJSON == direct.planJSON)
    }

    @Test func configComesFromTheOptionOrBesideTheWeights() throws {
        let config = try makeConfig(L: 4, K: 4)
        let dir = writeCheckpoint(completeTensors(config), config: nil)
        #expect {
            try MappedCheckpoint(source: dir + "/model.safetensors")
        } throws: { error in
            "\(error)" == dir + "/model.safetensors: no config.json beside the weights: pass --config FILE"
        }
        let elsewhere = TempDir().path + "/my-config.json"
        try config.json.serialized().write(toFile: elsewhere, atomically: true, encoding: .utf8)
        let mapped = try MappedCheckpoint(source: dir + "/model.safetensors", configPath: elsewhere)
        #expect(mapped.plan.groups.count == 4)
        #expect(mapped.configPath == elsewhere)
    }
}
