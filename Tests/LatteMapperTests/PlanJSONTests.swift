import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

/// `planJSON` is the `map --json` document of docs/CLI.md, member for member.
@Suite struct PlanJSONTests {
    @Test func hasExactlyTheContractsShape() throws {
        let config = try makeConfig(L: 4, K: 2, boundaries: [0, 0.25, 1])
        let json = try ExpertGroupPlan(config: config, tensors: completeTensors(config)).planJSON
        #expect(json.objectValue?.map(\.0) == ["num_layers", "num_groups", "groups", "residual_attention", "shared", "context"])
        #expect(json["num_layers"] == .int(4))
        #expect(json["num_groups"] == .int(2))
        #expect(json["groups"] == .array([
            .object([("index", .int(0)), ("timesteps", .array([.double(0), .double(0.25)])), ("layers", .array([.int(0), .int(1)]))]),
            .object([("index", .int(1)), ("timesteps", .array([.double(0.25), .double(1)])), ("layers", .array([.int(2), .int(3)]))]),
        ]))
        func gate(_ l: Int, _ g: Int, _ reuses: Int?) -> JSONValue {
            .object([("layer", .int(Int64(l))), ("group", .int(Int64(g))), ("gate", .string("gen.layers.\(l).res_gate")),
                     ("reuses_layer", reuses.map { .int(Int64($0)) } ?? .null)])
        }
        #expect(json["residual_attention"] == .array([gate(0, 0, nil), gate(1, 0, 0), gate(2, 1, nil), gate(3, 1, 2)]))
        #expect(json["shared"]?.arrayValue?.compactMap(\.stringValue) == [
            "time_embed.linear_1.weight", "time_embed.linear_1.bias", "time_embed.linear_2.weight", "time_embed.linear_2.bias",
            "patch_embed.proj.weight", "patch_embed.proj.bias", "image_head.norm.weight",
            "image_head.modulation.weight", "image_head.modulation.bias", "image_head.proj.weight", "image_head.proj.bias",
        ])
        let context = json["context"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(context.count == 2 + 12 * 4)
        #expect(context.first == "model.embed_tokens.weight")
        #expect(context[1] == "model.layers.0.input_layernorm.weight")
        #expect(context.last == "model.norm.weight")
        #expect(!context.contains { $0.hasPrefix("gen.") })
    }

    @Test func printsTimestepsAsFloats() throws {
        let config = try makeConfig(L: 8, K: 4)
        let text = try ExpertGroupPlan(config: config, tensors: completeTensors(config)).planJSON.serialized()
        #expect(text.contains(#""timesteps":[0.0,0.25]"#))
        #expect(text.contains(#""timesteps":[0.75,1.0]"#))
        #expect(text.contains(#""reuses_layer":null"#))
        // And it parses back to the same document.
        #expect(try JSON.parse(text) == ExpertGroupPlan(config: config, tensors: completeTensors(config)).planJSON)
    }

    @Test func vanillaModelIsOneGroupOfAllLayers() throws {
        let config = try makeConfig(L: 4, K: 1)
        let json = try ExpertGroupPlan(config: config, tensors: completeTensors(config)).planJSON
        #expect(json["groups"] == .array([
            .object([("index", .int(0)), ("timesteps", .array([.double(0), .double(1)])), ("layers", .array([0, 1, 2, 3].map { .int($0) }))]),
        ]))
        let reuses = json["residual_attention"]?.arrayValue?.map { $0["reuses_layer"] }
        #expect(reuses == [.null, .int(0), .int(1), .int(2)])
    }
}
