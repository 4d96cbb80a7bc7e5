import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

@Suite struct WriterTests {
    /// A source that fails mid-way (a tensor whose storage lies outside its file, after
    /// several good ones) leaves neither the output nor a temporary file.
    @Test func failedConvertLeavesNothing() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        let good = try CheckpointReader.open(path: dir.file("model.safetensors"))
        var tensors = good.tensors
        var bad = tensors[0]
        bad.name = "broken"
        bad.storageOffset = good.files[0].size + 100
        tensors.insert(bad, at: 3)
        let broken = Checkpoint(format: good.format, files: good.files, metadata: good.metadata, tensors: tensors)
        var seen = 0
        var options = testOptions(chunkSize: 1024)
        let counter = Counter()
        options.progress = { done, _ in counter.add(done) }
        #expect(throws: (any Error).self) { try LatteWriter.write(broken, plan: nil, to: dir.file("out.latte"), options: options) }
        seen = counter.value
        #expect(seen > 0, "the failure happened after some chunks were written")
        #expect(dir.entries == ["model.safetensors"])
        do {
            try LatteWriter.write(broken, plan: nil, to: dir.file("out.latte"), options: options)
        } catch {
            #expect(String(describing: error).contains("broken"))
        }
    }

    /// An existing output is left untouched by a failed convert.
    @Test func failedConvertKeepsOldOutput() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeFile(dir.file("out.latte"), Array("old".utf8))
        let c = Checkpoint(format: .safetensors, files: [], tensors: [])
        var options = testOptions()
        options.configPath = dir.file("missing-config.json")
        #expect(throws: (any Error).self) { try LatteWriter.write(c, plan: nil, to: dir.file("out.latte"), options: options) }
        #expect(readFile(dir.file("out.latte")) == Array("old".utf8))
        #expect(dir.entries == ["out.latte"])
    }

    /// With a plan: sections shared, group-0, group-1, extra in that order; reading one
    /// group decompresses only its section.
    @Test func sectionsFollowThePlan() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var tensors: [SyntheticTensor] = []
        for (i, name) in ["layers.0.w", "shared.w", "layers.1.w", "layers.2.w", "odd.w"].enumerated() {
            tensors.append(SyntheticTensor(name: name, dtype: .bf16, shape: [64, 64], bytes: makeBytes(.bf16, count: 4096, pattern: .weights, seed: UInt64(i))))
        }
        writeSafetensors(dir.file("model.safetensors"), tensors)
        let plan = SectionPlan(placements: [
            "layers.0.w": TensorPlacement(section: .group(0), role: .replica, layer: 0),
            "layers.1.w": TensorPlacement(section: .group(1), role: .replica, layer: 1),
            "layers.2.w": TensorPlacement(section: .group(1), role: .replica, layer: 2),
            "shared.w": TensorPlacement(section: .shared, role: .shared),
            "odd.w": TensorPlacement(section: .extra, role: .extra),
        ], planJSON: .object([("num_groups", .int(2)), ("groups", .array([.object([("index", .int(0))]), .object([("index", .int(1))])]))]))
        let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
        try LatteWriter.write(c, plan: plan, to: dir.file("m.latte"), options: testOptions(chunkSize: 1024))
        let f = try LatteFile(path: dir.file("m.latte"))
        #expect(f.manifest.sections.map(\.name) == ["shared", "group-0", "group-1", "extra"])
        // The manifest keeps the source's tensor order (export reproduces it); sections hold file order.
        #expect(f.tensors.map(\.name) == ["layers.0.w", "shared.w", "layers.1.w", "layers.2.w", "odd.w"])
        #expect(f.tensors.map(\.section) == [1, 0, 2, 2, 3])
        let firstChunk = { (n: String) in f.tensor(named: n)!.chunks[0].offset }
        #expect(firstChunk("shared.w") < firstChunk("layers.0.w") && firstChunk("layers.0.w") < firstChunk("layers.1.w"))
        #expect(f.tensor(named: "layers.2.w")?.layer == 2 && f.tensor(named: "layers.2.w")?.role == "replica")
        // Sections are disjoint and in file order.
        for (a, b) in zip(f.manifest.sections, f.manifest.sections.dropFirst()) { #expect(a.offset + a.length <= b.offset) }
        #expect(f.decompressedSections.isEmpty)
        let group = try f.readGroup(1)
        #expect(group.map(\.tensor.name) == ["layers.1.w", "layers.2.w"])
        #expect(group[1].bytes == tensors[3].bytes)
        #expect(f.decompressedSections == [2])
        #expect(throws: (any Error).self) { try f.readGroup(5) }
        let report = InspectReport(f)
        #expect(report.tensors.first { $0.name == "layers.0.w" }?.group == 0)
        #expect(report.json()["groups"]?.arrayValue?.count == 2)
    }

    @Test func tensorMissingFromPlanIsRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
        let plan = SectionPlan(placements: [:], planJSON: .object([]))
        #expect(throws: LatteWriteError.self) { try LatteWriter.write(c, plan: plan, to: dir.file("m.latte"), options: testOptions()) }
        #expect(dir.entries == ["model.safetensors"])
    }

    /// Provenance: source file size and SHA-256, format, metadata, config; embedded files
    /// come back byte for byte.
    @Test func provenanceAndEmbeddedFiles() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint(), metadata: [("format", "pt")])
        writeFile(dir.file("config.json"), Array("{\"num_layers\": 2, \"name\": \"tiny\"}".utf8))
        let inputs = makeBytes(.u8, count: 50_000, pattern: .random, seed: 9) + [UInt8](repeating: 0, count: 30_000)
        writeFile(dir.file("inputs.bin"), inputs)
        let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
        var options = testOptions()
        options.embeddedFiles = [("inputs.safetensors", dir.file("inputs.bin"))]
        try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: options)
        let f = try LatteFile(path: dir.file("m.latte"))
        let p = f.manifest.provenance
        let source = readFile(dir.file("model.safetensors"))
        #expect(p["source_files"]?.arrayValue?.first?["sha256"]?.stringValue == SHA256.hex(SHA256.hash(source)))
        #expect(p["source_files"]?.arrayValue?.first?["size"]?.intValue == source.count)
        #expect(p["source_format"]?.stringValue == "safetensors")
        #expect(p["source_metadata"]?["format"]?.stringValue == "pt")
        #expect(p["config"]?["name"]?.stringValue == "tiny")
        #expect(p["tool_version"]?.stringValue == latteVersion)
        #expect(try f.readBlob(named: "inputs.safetensors") == inputs)
        #expect(f.manifest.sections.last?.kind == .blob)
        #expect(LatteVerifier.verify(f).ok)
    }

    /// What a reader would refuse is refused before anything is written, one rule each,
    /// naming the file and the tensor.
    @Test func unreadableOutputsAreRefusedBeforeWriting() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeFile(dir.file("source.bin"), [UInt8](repeating: 0, count: 64))
        let file = try MappedFile(path: dir.file("source.bin"))
        func entry(_ name: String, _ dtype: DType = .f32, _ shape: [Int] = [2]) -> TensorEntry {
            TensorEntry(name: name, dtype: dtype, shape: shape, file: 0, storageOffset: 0,
                        storageLength: dtype.byteCount(elements: elementCount(of: shape) ?? 0) ?? 0, storageKey: name)
        }
        let cases: [([TensorEntry], [String: String], String)] = [
            ([entry("__metadata__")], [:], "tensor '__metadata__': cannot be stored: the name __metadata__ is reserved"),
            ([entry("a\u{0}b")], [:], "tensor 'a\u{0}b': cannot be stored: the name contains a NUL character"),
            ([entry("deep", .f32, [Int](repeating: 1, count: 65))], [:], "tensor 'deep': cannot be stored: rank 65 is more than the 64"),
            ([entry("w"), entry("w")], [:], "tensor 'w': cannot be stored: a second tensor would be stored under this name"),
            ([entry("w")], ["k\u{0}": "v"], "metadata cannot be stored: metadata key 'k\u{0}' contains a NUL character"),
            ([entry("w")], ["k": "v\u{0}"], "metadata cannot be stored: the value of metadata key 'k' contains a NUL character"),
            // 80 MB in 8-byte chunks: more chunks than a reader takes (its bytes are never read).
            ([entry("long", .u64, [10_000_001])], [:], "tensor 'long': cannot be stored: 10000001 chunks of 8 bytes, more than the 10000000"),
        ]
        for (tensors, metadata, message) in cases {
            let c = Checkpoint(format: .pytorchZip, files: [file], metadata: metadata, tensors: tensors)
            #expect {
                try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: testOptions(chunkSize: 8))
            } throws: { error in
                String(describing: error).hasPrefix(dir.file("source.bin") + ": " + message)
            }
            #expect(dir.entries == ["source.bin"])
        }
        // The largest rank and the empty name are stored, and read back.
        let c = Checkpoint(format: .pytorchZip, files: [file], tensors: [entry("deep", .f32, [Int](repeating: 1, count: 64)), entry("")])
        try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: testOptions(chunkSize: 8))
        let f = try LatteFile(path: dir.file("m.latte"))
        #expect(f.tensors.map(\.name) == ["deep", ""] && f.tensors[0].shape.count == 64)
    }

    /// The recorded config nests two levels inside the manifest: a config that parses but
    /// would make the manifest deeper than `JSON.maxDepth` is refused, one level less is kept.
    @Test func aConfigTooDeepForTheManifestIsRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), [SyntheticTensor(name: "w", dtype: .u8, shape: [1], bytes: [7])])
        let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
        func config(depth: Int) -> String { "{\"a\": " + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1) + "}" }
        var options = testOptions()
        options.configPath = dir.file("config.json")
        writeFile(dir.file("config.json"), Array(config(depth: JSON.maxDepth - 1).utf8))
        #expect {
            try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: options)
        } throws: { error in
            String(describing: error) == dir.file("config.json") + ": " + UnreadableOutputError.tooDeep(depth: JSON.maxDepth + 1, limit: JSON.maxDepth).description
        }
        #expect(dir.entries == ["config.json", "model.safetensors"])
        writeFile(dir.file("config.json"), Array(config(depth: JSON.maxDepth - 2).utf8))
        try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: options)
        #expect(try LatteFile(path: dir.file("m.latte")).manifest.provenance["config"]?["a"] != nil)
    }

    /// The `.latte` reader holds names to the same rules (a crafted file gets the same refusal).
    @Test func theReaderRefusesTheSameNames() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), [SyntheticTensor(name: "__metadataXX", dtype: .u8, shape: [1], bytes: [7])])
        try LatteWriter.write(try CheckpointReader.open(path: dir.file("model.safetensors")), plan: nil, to: dir.file("m.latte"), options: testOptions())
        // Same length, so only the name changes; the trailer's manifest checksum is redone.
        var bytes = readFile(dir.file("m.latte"))
        let from = Array("\"__metadataXX\"".utf8), to = Array("\"__metadata__\"".utf8)
        let at = try #require((0 ... bytes.count - from.count).last { Array(bytes[$0 ..< $0 + from.count]) == from })
        bytes.replaceSubrange(at ..< at + from.count, with: to)
        let t = bytes.count - LatteLayout.trailerSize
        let offset = Int(bytes[t ..< t + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) })
        let sum = XXH64.hash(Array(bytes[offset ..< t]))
        for k in 0 ..< 8 { bytes[t + 16 + k] = UInt8(truncatingIfNeeded: sum >> (8 * UInt64(k))) }
        writeFile(dir.file("m.latte"), bytes)
        #expect {
            _ = try LatteFile(path: dir.file("m.latte"))
        } throws: { error in
            String(describing: error).contains("tensor '__metadata__' is invalid: the name __metadata__ is reserved")
        }
    }

    /// Raw chunks start on 64-byte boundaries and can be used from the map.
    @Test func rawChunksAreAligned() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let random = SyntheticTensor(name: "noise", dtype: .bf16, shape: [3001], bytes: makeBytes(.bf16, count: 3001, pattern: .random, seed: 4))
        writeSafetensors(dir.file("model.safetensors"), [SyntheticTensor(name: "a", dtype: .u8, shape: [3], bytes: [1, 2, 3]), random])
        try LatteWriter.write(try CheckpointReader.open(path: dir.file("model.safetensors")), plan: nil, to: dir.file("m.latte"),
                              options: testOptions(chunkSize: 1 << 20))
        let f = try LatteFile(path: dir.file("m.latte"))
        let t = f.tensor(named: "noise")!
        #expect(t.chunks.count == 1 && t.chunks[0].codec == .raw && t.chunks[0].offset % 64 == 0)
        let mapped = try f.mappedBytes(of: t)
        #expect(mapped.map { Array($0) } == random.bytes)
    }
}

final class Counter: @unchecked Sendable {
    var value = 0
    func add(_ v: Int) { value = max(value, v) }
}
