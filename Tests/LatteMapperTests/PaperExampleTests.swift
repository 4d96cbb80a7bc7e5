import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

/// The worked example of docs/ARCHITECTURE.md ("The expert-group plan"): L = 28, K = 4 on Qwen2-VL-2B's decoder
/// (D=1536, F=8960, H=12, Hkv=2, V=151936), with C=4, p=2, latent 32x32, fdim=256, in BF16.
/// The plan is built from the tensor list alone (no 6 GB file); the numbers here are the
/// ones the document prints.
@Suite struct PaperExampleTests {
    static func plan() throws -> ExpertGroupPlan {
        let config = try ModelConfig(json: configJSON([
            "hidden_size": .int(1536), "intermediate_size": .int(8960), "num_hidden_layers": .int(28),
            "num_attention_heads": .int(12), "num_key_value_heads": .int(2), "vocab_size": .int(151_936),
            "num_timestep_groups": .int(4), "latent_channels": .int(4), "patch_size": .int(2),
            "latent_size": .array([.int(32), .int(32)]), "time_embed_frequency_dim": .int(256),
            "rope_theta": .double(1_000_000),
        ]))
        return try ExpertGroupPlan(config: config, tensors: completeTensors(config, dtype: .bf16))
    }

    @Test func groupsOfSevenLayers() throws {
        let plan = try Self.plan()
        #expect(plan.groups.map(\.layers) == [Array(0 ..< 7), Array(7 ..< 14), Array(14 ..< 21), Array(21 ..< 28)])
        #expect(plan.groups.map { [$0.timestepStart, $0.timestepEnd] } == [[0, 0.25], [0.25, 0.5], [0.5, 0.75], [0.75, 1]])
        #expect(plan.replicaLayers.filter { !$0.gateIsActive }.map(\.layer) == [0, 7, 14, 21])
        #expect(plan.replicaLayers.first { $0.layer == 13 }?.reusesLayer == 12)
    }

    @Test func parameterCountsAndBytes() throws {
        let plan = try Self.plan()
        #expect(plan.contextLayers[0].tensors.parameters == 46_797_824)
        #expect(plan.replicaLayers[0].allTensors.parameters == 56_262_668)
        #expect(plan.replicaLayers[0].gateTensors.parameters == 18_444)
        for g in plan.groups {
            #expect(g.parameters == 393_838_676)
            #expect(g.bytes == 787_677_352)
        }
        #expect(plan.context.parameters == 1_543_714_304)
        #expect(plan.context.bytes == 3_087_428_608)
        #expect(plan.shared.parameters == 7_529_488)
        #expect(plan.shared.bytes == 15_058_976)
        #expect(plan.tensors.parameters == 3_126_598_496)
        #expect(plan.tensors.bytes == 6_253_196_992)
        #expect(plan.activeParameters == 1_945_082_468)
    }
}
