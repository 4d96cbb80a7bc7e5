import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

/// The mapper's tensor table against the spec's, typed out independently here with the
/// tiny fixture's sizes (D=64, F=128, H=4, Hkv=2, hd=16, V=256, C=4, p=2, fdim=256).
@Suite struct ReferenceTensorsTests {
    static let tiny: JSONValue = configJSON([
        "hidden_size": .int(64), "intermediate_size": .int(128), "num_hidden_layers": .int(8),
        "num_attention_heads": .int(4), "num_key_value_heads": .int(2), "vocab_size": .int(256),
        "num_timestep_groups": .int(4), "latent_channels": .int(4), "patch_size": .int(2),
        "latent_size": .array([.int(8), .int(8)]), "time_embed_frequency_dim": .int(256),
    ])

    static let decoderLayer: [(String, [Int])] = [
        ("input_layernorm.weight", [64]),
        ("self_attn.q_proj.weight", [64, 64]), ("self_attn.q_proj.bias", [64]),
        ("self_attn.k_proj.weight", [32, 64]), ("self_attn.k_proj.bias", [32]),
        ("self_attn.v_proj.weight", [32, 64]), ("self_attn.v_proj.bias", [32]),
        ("self_attn.o_proj.weight", [64, 64]),
        ("post_attention_layernorm.weight", [64]),
        ("mlp.gate_proj.weight", [128, 64]), ("mlp.up_proj.weight", [128, 64]), ("mlp.down_proj.weight", [64, 128]),
    ]
    static let replicaOnly: [(String, [Int])] = [
        ("attn_out_norm.weight", [64]), ("mlp_out_norm.weight", [64]),
        ("modulation.weight", [256, 64]), ("modulation.bias", [256]),
        ("res_gate.weight", [4, 64]), ("res_gate.bias", [4]),
    ]
    static let shared: [(String, [Int])] = [
        ("time_embed.linear_1.weight", [64, 256]), ("time_embed.linear_1.bias", [64]),
        ("time_embed.linear_2.weight", [64, 64]), ("time_embed.linear_2.bias", [64]),
        ("patch_embed.proj.weight", [64, 4, 2, 2]), ("patch_embed.proj.bias", [64]),
        ("image_head.norm.weight", [64]),
        ("image_head.modulation.weight", [128, 64]), ("image_head.modulation.bias", [128]),
        ("image_head.proj.weight", [16, 64]), ("image_head.proj.bias", [16]),
    ]

    @Test func matchesTheSpecTable() throws {
        let config = try ModelConfig(json: Self.tiny)
        var spec: [String: [Int]] = ["model.embed_tokens.weight": [256, 64], "model.norm.weight": [64]]
        for l in 0 ..< 8 {
            for (s, shape) in Self.decoderLayer {
                spec["model.layers.\(l).\(s)"] = shape
                spec["gen.layers.\(l).\(s)"] = shape
            }
            for (s, shape) in Self.replicaOnly { spec["gen.layers.\(l).\(s)"] = shape }
        }
        for (n, shape) in Self.shared { spec[n] = shape }

        let expected = ReferenceTensors.expected(for: config)
        #expect(expected.count == spec.count)
        #expect(Set(expected.map(\.name)).count == expected.count)
        for e in expected { #expect(spec[e.name] == e.shape, "\(e.name)") }
        // No output projection bias anywhere.
        #expect(!expected.contains { $0.name.hasSuffix("o_proj.bias") })
    }

    @Test func kindsFollowTheNames() throws {
        let config = try ModelConfig(json: Self.tiny)
        for e in ReferenceTensors.expected(for: config) {
            switch e.kind {
            case .contextGlobal: #expect(["model.embed_tokens.weight", "model.norm.weight"].contains(e.name))
            case let .contextLayer(l): #expect(e.name.hasPrefix("model.layers.\(l)."))
            case let .replica(l): #expect(e.name.hasPrefix("gen.layers.\(l).") && !e.name.contains("res_gate"))
            case let .resGate(l): #expect(e.name.hasPrefix("gen.layers.\(l).res_gate."))
            case .shared: #expect(Self.shared.contains { $0.0 == e.name })
            }
        }
        #expect(ReferenceTensors.layerIndex(inCanonicalName: "gen.layers.11.x") == 11)
        #expect(ReferenceTensors.layerIndex(inCanonicalName: "model.layers.0.y") == 0)
        #expect(ReferenceTensors.layerIndex(inCanonicalName: "model.norm.weight") == nil)
    }

    @Test(.enabled(if: fixturesPresent, "fixtures/models not generated"))
    func theGeneratedFixturesHaveExactlyTheseTensors() throws {
        // The fixture generator (PyTorch) is an independent writer of the same names and shapes.
        for name in ["tiny", "tiny-bf16", "tiny-f16", "k1", "k2", "k2-sharded", "nores", "cfg"] {
            guard let dir = fixtureModel(name) else { continue }
            let mapped = try MappedCheckpoint(source: dir)
            #expect(mapped.plan.tensors.count == mapped.checkpoint.tensors.count, "\(name)")
            #expect(mapped.plan.extra.isEmpty, "\(name)")
        }
    }
}
