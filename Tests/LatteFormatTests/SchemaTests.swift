#if canImport(Glibc)
import Glibc
#endif
import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Written manifests validate against schemas/latte-manifest.schema.json (python3's
/// jsonschema, which `make deps` installs).
@Suite struct SchemaTests {
    static let schema: String = {
        var p = #filePath
        for _ in 0 ..< 3 { p = String(p[..<p.lastIndex(of: "/")!]) }
        return p + "/schemas/latte-manifest.schema.json"
    }()

    static let envelopeSchema = String(schema.dropLast("manifest.schema.json".count)) + "manifest-envelope.schema.json"

    func validate(_ manifest: JSONValue, dir: TempDir, schema: String = SchemaTests.schema) -> Int32 {
        writeFile(dir.file("manifest.json"), Array(manifest.serialized().utf8))
        let script = """
        import json, sys, jsonschema
        schema = json.load(open(sys.argv[1])); doc = json.load(open(sys.argv[2]))
        jsonschema.Draft202012Validator.check_schema(schema)
        jsonschema.Draft202012Validator(schema).validate(doc)
        """
        writeFile(dir.file("validate.py"), Array(script.utf8))
        return system("python3 \(dir.file("validate.py")) \(schema) \(dir.file("manifest.json")) 2>\(dir.file("err.txt"))")
    }

    /// Whether python3 with jsonschema is here (else the test says so and is skipped).
    static func canValidate() -> Bool {
        guard system("command -v python3 >/dev/null 2>&1 && python3 -c 'import jsonschema' 2>/dev/null") == 0 else {
            print("note: python3 with jsonschema is absent; schema validation skipped")
            return false
        }
        return true
    }

    @Test func writtenManifestsValidate() throws {
        guard system("command -v python3 >/dev/null 2>&1") == 0 else {
            print("note: python3 is absent; schema validation skipped")
            return
        }
        #expect(system("python3 -c 'import jsonschema' 2>/dev/null") == 0, "python3 lacks jsonschema: run `make deps`")
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint(), metadata: [("format", "pt")])
        writeFile(dir.file("extra.bin"), [1, 2, 3])
        let plan = SectionPlan(placements: Dictionary(uniqueKeysWithValues: syntheticCheckpoint().enumerated().map {
            ($0.element.name, $0.offset % 2 == 0 ? TensorPlacement(section: .group($0.offset % 3), role: .replica, layer: $0.offset) : TensorPlacement(section: .shared, role: .shared))
        }), planJSON: .object([("groups", .array([]))]))
        var options = testOptions()
        options.embeddedFiles = [("extra.bin", dir.file("extra.bin"))]
        for p in [nil, plan] {
            try LatteWriter.write(try CheckpointReader.open(path: dir.file("model.safetensors")), plan: p, to: dir.file("m.latte"), options: options)
            let f = try LatteFile(path: dir.file("m.latte"))
            #expect(validate(f.manifest.json, dir: dir) == 0, "\(String(decoding: readFile(dir.file("err.txt")), as: UTF8.self))")
        }
        // The schema is not vacuous: a manifest with a bad codec fails it.
        let f = try LatteFile(path: dir.file("m.latte"))
        var m = f.manifest
        m.tensors[0].chunks[0].codec = .planes
        m.tensors[0].chunks[0].width = 3
        #expect(validate(m.json, dir: dir) != 0)
    }

    /// A manifest with base references validates; one with both chunks and a base does not.
    @Test func referencedManifestsValidate() throws {
        guard Self.canValidate() else { return }
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = BaseReferenceTests.small()
        let (_, _, out, _) = try BaseReferenceTests.convert(dir, source: source, base: base)
        let m = try LatteFile(path: out).manifest
        #expect(validate(m.json, dir: dir) == 0, "\(String(decoding: readFile(dir.file("err.txt")), as: UTF8.self))")
        // Both chunks and a reference: serialized by hand, as the writer never would.
        var both = m.json
        if case var .object(members) = both, case var .array(tensors) = members.first(where: { $0.0 == "tensors" })!.1,
           case var .object(t) = tensors[0] {
            t.append(("chunks", .array([])))
            tensors[0] = .object(t)
            members = members.map { $0.0 == "tensors" ? ($0.0, .array(tensors)) : $0 }
            both = .object(members)
        }
        #expect(validate(both, dir: dir) != 0)
        var noFiles = m
        noFiles.base = []
        #expect(validate(noFiles.json, dir: dir) != 0)
    }

    /// A compressed manifest's envelope validates against its schema; the manifest it locates
    /// against the manifest's.
    @Test func envelopesValidate() throws {
        guard Self.canValidate() else { return }
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        var options = testOptions()
        options.compressManifest = true
        try LatteWriter.write(try CheckpointReader.open(path: dir.file("model.safetensors")), plan: nil, to: dir.file("m.latte"), options: options)
        let bytes = readFile(dir.file("m.latte"))
        let envelope = try bytes[manifestRange(of: bytes)].withUnsafeBytes { try JSON.parse($0) }
        #expect(validate(envelope, dir: dir, schema: Self.envelopeSchema) == 0, "\(String(decoding: readFile(dir.file("err.txt")), as: UTF8.self))")
        #expect(validate(try LatteFile(path: dir.file("m.latte")).manifest.json, dir: dir) == 0)
        #expect(validate(envelope, dir: dir) != 0)
    }
}
