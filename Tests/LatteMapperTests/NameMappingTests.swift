import Foundation
import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

@Suite struct NameMappingTests {
    static let mappingsFolder = packageRoot + "/fixtures/mappings/"

    @Test func layerPatternsMatchPrefixesAndLayerNumbers() throws {
        let p = try #require(LayerPattern("model.language_model.layers.{l}."))
        #expect(p.matchPrefix(of: "model.language_model.layers.12.mlp.up_proj.weight") == .init(layer: 12, rest: "mlp.up_proj.weight"))
        #expect(p.matchPrefix(of: "model.language_model.layers.0.x")?.layer == 0)
        #expect(p.matchPrefix(of: "model.language_model.layers.07.x") == nil) // leading zero
        #expect(p.matchPrefix(of: "model.language_model.layers.x.y") == nil)
        #expect(p.matchPrefix(of: "model.language_model.layers.3") == nil) // the dot after {l} is required
        #expect(p.matchPrefix(of: "model.layers.3.x") == nil)
        let literal = try #require(LayerPattern("lm_head."))
        #expect(!literal.hasPlaceholder)
        #expect(literal.matchPrefix(of: "lm_head.weight") == .init(layer: nil, rest: "weight"))
        #expect(LayerPattern("a.{l}.{l}.") == nil)
        #expect(LayerPattern("a.{layer}.") == nil)
        #expect(LayerPattern("a.}") == nil)
    }

    @Test func rulesRenameTheFirstMatchOnly() throws {
        let m = try NameMapping(json: JSON.parse(#"""
        {"rename": [
            {"from": "model.language_model.layers.{l}.", "to": "model.layers.{l}."},
            {"from": "model.language_model.", "to": "model."},
            {"from": "model.", "to": "should.not.chain."}
        ]}
        """#))
        #expect(m.canonicalName(of: "model.language_model.layers.5.self_attn.q_proj.bias") == "model.layers.5.self_attn.q_proj.bias")
        #expect(m.canonicalName(of: "model.language_model.norm.weight") == "model.norm.weight")
        #expect(m.canonicalName(of: "gen.layers.5.res_gate.bias") == "gen.layers.5.res_gate.bias")
        #expect(m.canonicalName(of: "model.x") == "should.not.chain.x")
        #expect(NameMapping.canonical.canonicalName(of: "model.language_model.norm.weight") == "model.language_model.norm.weight")
    }

    @Test func layerNumbersCanMoveAndPrefixesCanBeDropped() throws {
        let m = try NameMapping(json: JSON.parse(#"""
        {"rename": [{"from": "decoder.block_{l}.", "to": "model.layers.{l}."}, {"from": "wrapper.", "to": ""}]}
        """#))
        #expect(m.canonicalName(of: "decoder.block_27.mlp.up_proj.weight") == "model.layers.27.mlp.up_proj.weight")
        #expect(m.canonicalName(of: "wrapper.time_embed.linear_1.bias") == "time_embed.linear_1.bias")
    }

    @Test(arguments: [
        (#"[]"#, "mapping file must be a JSON object, found an array"),
        (#"{}"#, "mapping file has no 'rename' list"),
        (#"{"rename": {}}"#, "mapping file 'rename' must be an array of {\"from\", \"to\"} objects"),
        (#"{"rename": [{"from": "a."}]}"#, "mapping file 'rename[0]' needs string members 'from' and 'to'"),
        (#"{"rename": [{"from": "a.", "to": "b.", "when": 1}]}"#, "mapping file 'rename[0]' has an unknown member 'when'"),
        (#"{"rename": [{"from": "", "to": "b."}]}"#, "mapping rule {\"from\": \"\", \"to\": \"b.\"}: 'from' is empty"),
        (#"{"rename": [{"from": "a.{l}.", "to": "b."}]}"#, "mapping rule {\"from\": \"a.{l}.\", \"to\": \"b.\"}: {l} must appear in both 'from' and 'to' or in neither"),
        (#"{"rename": [{"from": "a.{n}.", "to": "b.{n}."}]}"#, "mapping rule {\"from\": \"a.{n}.\", \"to\": \"b.{n}.\"}: 'from' may hold one {l} and no other brace"),
        (#"{"rename": [], "extra": [""]}"#, "mapping file 'extra[0]' must be a non-empty string"),
        (#"{"rename": [], "renames": []}"#, "mapping file 'renames' is not a mapping-file member (expected rename, extra, description, $schema)"),
    ])
    func refusesBadMappingFiles(_ text: String, _ message: String) throws {
        #expect(throws: NameMappingError.self) { try NameMapping(json: JSON.parse(text)) }
        do {
            _ = try NameMapping(json: JSON.parse(text))
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func loadNamesTheFile() throws {
        let path = TempDir().path + "/m.json"
        try #"{"rename": [{"from": "a", "to": "b"},]}"#.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try NameMapping.load(path: path) } throws: { "\($0)".hasPrefix(path + ": mapping file is not valid JSON") }
    }

    /// Renames the canonical names of a complete checkpoint into a foreign convention.
    func foreign(_ tensors: [TensorDescriptor], layers: String, embed: String, norm: String) -> [TensorDescriptor] {
        tensors.map { t in
            var t = t
            if t.name.hasPrefix("model.layers.") { t.name = layers + t.name.dropFirst("model.layers.".count) }
            else if t.name == "model.embed_tokens.weight" { t.name = embed }
            else if t.name == "model.norm.weight" { t.name = norm }
            return t
        }
    }

    static let conventions: [(file: String, layers: String, embed: String, norm: String, extra: [String])] = [
        ("qwen2-vl-language-model.json", "model.language_model.layers.", "model.language_model.embed_tokens.weight",
         "model.language_model.norm.weight", ["model.visual.blocks.0.attn.qkv.weight", "lm_head.weight"]),
        ("qwen2-vl-hf-legacy.json", "language_model.model.layers.", "language_model.model.embed_tokens.weight",
         "language_model.model.norm.weight", ["visual.patch_embed.proj.weight", "language_model.lm_head.weight"]),
    ]

    @Test(arguments: [0, 1])
    func aRenamedCheckpointGivesTheSamePlan(_ which: Int) throws {
        let c = Self.conventions[which]
        let config = try makeConfig(L: 6, K: 3, boundaries: [0, 0.2, 0.5, 1])
        let original = completeTensors(config)
        let renamed = foreign(original, layers: c.layers, embed: c.embed, norm: c.norm)
        #expect(renamed.map(\.name) != original.map(\.name))

        let dirA = writeCheckpoint(original, config: config.json)
        let dirB = writeCheckpoint(renamed, config: config.json)
        let mapping = Self.mappingsFolder + c.file
        let a = try MappedCheckpoint(source: dirA)
        let b = try MappedCheckpoint(source: dirB, mappingPath: mapping)
        #expect(a.plan.planJSON == b.plan.planJSON)
        #expect(a.plan.tensors.map(\.name) == b.plan.tensors.map(\.name))
        #expect(a.plan.tensors.map(\.placement.section) == b.plan.tensors.map(\.placement.section))
        // The plan keeps both names; placements are keyed by the checkpoint's names.
        let embed = try #require(b.plan.tensor(named: "model.embed_tokens.weight"))
        #expect(embed.sourceName == c.embed)
        let layer = try #require(b.plan.tensor(named: "model.layers.5.mlp.down_proj.weight"))
        #expect(layer.sourceName == c.layers + "5.mlp.down_proj.weight")
        #expect(b.plan.sectionPlan.placements[c.layers + "5.mlp.down_proj.weight"]
            == TensorPlacement(section: .shared, role: .context, layer: 5, canonicalName: "model.layers.5.mlp.down_proj.weight"))
        #expect(b.plan.sectionPlan.placements["gen.layers.5.res_gate.weight"]?.canonicalName == nil)

        // Without the mapping the foreign names are refused.
        #expect(throws: (any Error).self) { try MappedCheckpoint(source: dirB) }

        // The convention's declared extras (vision tower, LM head) are kept without --allow-extra.
        let withExtras = renamed + c.extra.map { TensorDescriptor(name: $0, dtype: .bf16, shape: [4, 4]) }
        let dirC = writeCheckpoint(withExtras, config: config.json)
        let withExtrasPlan = try MappedCheckpoint(source: dirC, mappingPath: mapping).plan
        #expect(withExtrasPlan.extra.map(\.sourceName) == c.extra)
        #expect(withExtrasPlan.planJSON["groups"] == a.plan.planJSON["groups"])
    }

    @Test func renamedErrorsNameBothNames() throws {
        let config = try makeConfig(L: 2, K: 1)
        var renamed = foreign(completeTensors(config), layers: "model.language_model.layers.",
                              embed: "model.language_model.embed_tokens.weight", norm: "model.language_model.norm.weight")
        let i = renamed.firstIndex { $0.name == "model.language_model.layers.1.self_attn.q_proj.weight" }!
        renamed[i].shape = [8, 4]
        let mapping = try NameMapping.load(path: Self.mappingsFolder + "qwen2-vl-language-model.json")
        let expected = PlanError.wrongShape(tensor: "model.language_model.layers.1.self_attn.q_proj.weight",
                                            canonical: "model.layers.1.self_attn.q_proj.weight", expected: [8, 8], found: [8, 4])
        #expect(throws: expected) { try ExpertGroupPlan(config: config, tensors: renamed, mapping: mapping) }
        #expect(expected.description == "tensor 'model.language_model.layers.1.self_attn.q_proj.weight' (canonical 'model.layers.1.self_attn.q_proj.weight'): expected shape [8, 8] from the config, found [8, 4]")
    }

    @Test func refusesTwoNamesMappingOntoOne() throws {
        let config = try makeConfig(L: 2, K: 1)
        let tensors = completeTensors(config) + [TensorDescriptor(name: "model.language_model.norm.weight", dtype: .f32, shape: [8])]
        let mapping = try NameMapping.load(path: Self.mappingsFolder + "qwen2-vl-language-model.json")
        #expect(throws: PlanError.nameCollision(canonical: "model.norm.weight", sources: ["model.norm.weight", "model.language_model.norm.weight"])) {
            try ExpertGroupPlan(config: config, tensors: tensors, mapping: mapping)
        }
    }

    @Test(.enabled(if: fixtureModel("qwen2-vl-naming") != nil && fixtureModel("k2") != nil, "fixtures/models not generated"))
    func theQwen2VLFixtureMapsLikeItsOriginal() throws {
        let renamed = try MappedCheckpoint(source: fixtureModel("qwen2-vl-naming")!,
                                           mappingPath: Self.mappingsFolder + "qwen2-vl-language-model.json")
        let original = try MappedCheckpoint(source: fixtureModel("k2")!)
        #expect(renamed.plan.planJSON == original.plan.planJSON)
    }

    @Test func shippedMappingsRoundTrip() throws {
        for c in Self.conventions {
            let m = try NameMapping.load(path: Self.mappingsFolder + c.file)
            #expect(m.rules.count == 3)
            #expect(try NameMapping(json: m.json) == m)
        }
    }
}
