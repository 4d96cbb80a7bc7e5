import Foundation
import LatteCore
import LatteMapper
import Testing
import LatteTestSupport

/// The JSON Schemas in schemas/ against python3's `jsonschema` (Draft 2020-12), and
/// against the Swift parsers: what the schema refuses, latte refuses too.
@Suite struct SchemaTests {
    static let configSchema = packageRoot + "/schemas/config.schema.json"
    static let mappingSchema = packageRoot + "/schemas/mapping.schema.json"

    /// Validates each document against `schema`; returns, per document, nil when valid or the first error.
    func validate(_ documents: [JSONValue], against schema: String) throws -> [String?] {
        let dir = TempDir().path
        var paths: [String] = []
        for (i, d) in documents.enumerated() {
            let p = dir + "/doc\(i).json"
            try d.serialized(pretty: true).write(toFile: p, atomically: true, encoding: .utf8)
            paths.append(p)
        }
        let script = """
        import json, sys
        try:
            import jsonschema
        except ImportError:
            print("python3-jsonschema is not installed (make deps installs it)", file=sys.stderr); sys.exit(3)
        schema = json.load(open(sys.argv[1]))
        jsonschema.Draft202012Validator.check_schema(schema)
        v = jsonschema.Draft202012Validator(schema)
        for p in sys.argv[2:]:
            errors = sorted(v.iter_errors(json.load(open(p))), key=lambda e: list(e.path))
            print(json.dumps({"error": errors[0].message if errors else None}))
        """
        let r = try runProcess("/usr/bin/env", ["python3", "-c", script, schema] + paths)
        try #require(r.status == 0, "python3 jsonschema: \(r.stderr)")
        return try r.stdout.split(separator: "\n").map { line in try JSON.parse(String(line))["error"]?.stringValue }
    }

    @Test func fixtureAndSyntheticConfigsAreValid() throws {
        var docs: [JSONValue] = [
            configJSON(),
            configJSON(["timestep_boundaries": .array([.int(0), .double(0.3), .int(1)])]),
            configJSON(["timestep_boundaries": .null]),
            configJSON(remove: ["rms_norm_eps", "rope_theta", "num_timestep_groups", "residual_attention"]),
            configJSON(["architectures": .array([.string("LatteFlow")]), "torch_dtype": .string("bfloat16")]),
        ]
        var names = (0 ..< docs.count).map { "synthetic \($0)" }
        let models = packageRoot + "/fixtures/models"
        for m in (try? FileManager.default.contentsOfDirectory(atPath: models))?.sorted() ?? [] {
            let path = models + "/" + m + "/config.json"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            docs.append(try JSON.parse(text))
            names.append(path)
        }
        let results = try validate(docs, against: Self.configSchema)
        #expect(results.count == docs.count)
        for (name, (doc, r)) in zip(names, zip(docs, results)) {
            #expect(r == nil, "\(name): \(r ?? "")")
            // The Swift parser agrees.
            #expect(throws: Never.self, "\(name)") { try ModelConfig(json: doc) }
        }
    }

    @Test func structurallyBadConfigsAreRefusedByBoth() throws {
        let bad: [JSONValue] = [
            configJSON(["model_type": .string("qwen2_vl")]),
            configJSON(remove: ["hidden_size"]),
            configJSON(["hidden_size": .int(0)]),
            configJSON(["hidden_size": .double(8.5)]),
            configJSON(["num_hidden_layers": .string("4")]),
            configJSON(["latent_size": .array([.int(4)])]),
            configJSON(["latent_size": .array([.int(4), .int(4), .int(4)])]),
            configJSON(["time_embed_frequency_dim": .int(7)]),
            configJSON(["residual_attention": .string("yes")]),
            configJSON(["rms_norm_eps": .int(-1)]),
            configJSON(["timestep_boundaries": .array([.double(0.1), .double(0.5), .int(1)])]),
            configJSON(["timestep_boundaries": .array([.int(0), .double(0.5), .double(0.9)])]),
            configJSON(["timestep_boundaries": .array([.int(0), .string("x"), .int(1)])]),
            configJSON(["hidden_size": .int(1 << 40)]),
            .array([]),
        ]
        let results = try validate(bad, against: Self.configSchema)
        for (doc, r) in zip(bad, results) {
            #expect(r != nil, "the schema accepts \(doc.serialized())")
            #expect(throws: ModelConfigError.self, "latte accepts \(doc.serialized())") { try ModelConfig(json: doc) }
        }
    }

    @Test func shippedMappingFilesAreValid() throws {
        let folder = packageRoot + "/fixtures/mappings/"
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == ["qwen2-vl-hf-legacy.json", "qwen2-vl-language-model.json"])
        let docs = try files.map { try JSON.parse(String(contentsOfFile: folder + $0, encoding: .utf8)) }
        for (f, r) in zip(files, try validate(docs, against: Self.mappingSchema)) { #expect(r == nil, "\(f): \(r ?? "")") }
    }

    @Test func badMappingsAreRefusedByBoth() throws {
        let texts = [
            #"{}"#,
            #"{"rename": [{"from": "a."}]}"#,
            #"{"rename": [{"from": "a.", "to": "b.", "when": 1}]}"#,
            #"{"rename": [{"from": "", "to": "b."}]}"#,
            #"{"rename": [{"from": "a.{l}.", "to": "b."}]}"#,
            #"{"rename": [{"from": "a.", "to": "b.{l}."}]}"#,
            #"{"rename": [{"from": "a.{l}.{l}", "to": "b.{l}."}]}"#,
            #"{"rename": [{"from": "a.{n}.", "to": "b.{n}."}]}"#,
            #"{"rename": [], "extra": [""]}"#,
            #"{"rename": [], "renames": []}"#,
        ]
        let docs = try texts.map { try JSON.parse($0) }
        for (t, (doc, r)) in zip(texts, zip(docs, try validate(docs, against: Self.mappingSchema))) {
            #expect(r != nil, "the schema accepts \(t)")
            #expect(throws: NameMappingError.self, "latte accepts \(t)") { try NameMapping(json: doc) }
        }
    }
}
