import Foundation
import Testing
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
@testable import LatteRuntime

/// The runtime on a converted `.latte` file: same outputs as on the source, and a step of
/// one expert group decompresses only the shared section and that group's section.
@Suite struct LatteFileRunTests {
    /// Converts fixture `name` into a temporary `.latte` laid out by the mapper's plan.
    func convert(_ name: String, chunkSize: Int = LatteLayout.defaultChunkSize) throws -> (LatteFile, URL) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latte-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let source = "\(Fixtures.models)/\(name)"
        let mapped = try MappedCheckpoint(checkpoint: CheckpointReader.open(path: source), source: source)
        let path = dir.appendingPathComponent("\(name).latte").path
        var options = LatteWriteOptions()
        options.configPath = mapped.configPath
        options.chunkSize = chunkSize
        _ = try LatteWriter.write(mapped.checkpoint, plan: mapped.plan.sectionPlan, to: path, options: options)
        return (try LatteFile(path: path), dir)
    }

    /// Context layers read in one batch and embedding rows (the prefill's reads) are streamed
    /// chunk by chunk into their buffers: 520-byte chunks cut the 64-element BF16 rows and
    /// the weights anywhere, and the floats are still those of the source checkpoint.
    @Test func streamedContextReadsAndRowsAreTheSources() throws {
        let (file, dir) = try convert("tiny-bf16", chunkSize: 520)
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(file.tensors.contains { $0.chunks.count > 3 })
        let latte = DecodingWeightSource(file)
        let source = DecodingWeightSource(try CheckpointReader.open(path: "\(Fixtures.models)/tiny-bf16"))
        let config = try ModelConfig.load(path: "\(Fixtures.models)/tiny-bf16/config.json")
        let names = Names.contextLayer(1, Dims(config)).map(\.0)
        let counts = names.map { latte.shape($0).flatMap { elementCount(of: $0) } ?? 0 }
        #expect(!counts.contains(0))
        let buffers = counts.map { UnsafeMutableBufferPointer<Float>.allocate(capacity: $0) }
        defer { for b in buffers { b.deallocate() } }
        for b in buffers { b.initialize(repeating: .nan) }
        try latte.read(zip(names, buffers).map { WeightRead(name: $0, destination: $1) })
        for (name, got) in zip(names, buffers) { #expect(Array(got) == (try source.float32(name)), "\(name)") }
        let embed = Names.embed
        let shape = try #require(latte.shape(embed))
        let width = shape[1], rows = [5, 0, 5, shape[0] - 1, 2]
        var out = [Float](repeating: .nan, count: rows.count * width)
        try out.withUnsafeMutableBufferPointer { try latte.readRows(embed, rows: rows, into: $0) }
        let all = try source.float32(embed)
        #expect(out == rows.flatMap { all[$0 * width ..< ($0 + 1) * width] })
        // The estimate covers the stream's buffers and a whole copy (a chunk cut inside an element).
        let estimate = try #require(latte.readScratchBytes(names))
        #expect(estimate >= (try #require(file.streamBytes(names.map { file.tensor(named: $0)! }))))
        #expect(estimate >= names.compactMap { file.tensor(named: $0)?.nbytes }.max()!)
    }

    @Test func oneGroupsStepsDecompressOnlyThatGroup() throws {
        let (file, dir) = try convert("tiny")
        defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try ModelLoader.open(path: file.path)
        let model = try LatteModel(config: loaded.config, weights: loaded.weights)
        let context = try model.prefill(ids: [1, 2, 3])
        let latent = [Float](repeating: 0.1, count: loaded.config.latentChannels * loaded.config.latentSize[0] * loaded.config.latentSize[1])
        // t = 0.6 and 0.7 both belong to group 2 of the tiny model's [0, .25, .5, .75, 1].
        _ = try model.velocity(latent: latent, t: 0.6, context: context)
        _ = try model.velocity(latent: latent, t: 0.7, context: context)
        let sections = loaded.latteFile!.manifest.sections
        let touched = loaded.latteFile!.decompressedSections.map { sections[$0].name }.sorted()
        #expect(touched == ["group-2", "shared"], "\(touched)")
        #expect(model.loadedGroups == [2])
    }

    @Test func oneGroupIsHeldAtATimeAndNoDecodedCopy() throws {
        let (file, dir) = try convert("k2")   // K = 2, boundaries [0, 0.3, 1]
        defer { try? FileManager.default.removeItem(at: dir) }
        let loaded = try ModelLoader.open(path: file.path)
        let source = try #require(loaded.weights as? DecodingWeightSource<LatteFile>)
        let model = try LatteModel(config: loaded.config, weights: source)
        let context = try model.prefill(ids: [1, 2])
        let latent = [Float](repeating: 0.1, count: 4 * 4 * 6)
        try model.reserve(positions: 2 + model.dims.tokens, stepContext: 2)
        let before = model.ledger.held
        _ = try model.velocity(latent: latent, t: 0.1, context: context)
        let withGroup0 = model.ledger.held
        #expect(model.residentGroup == 0)
        #expect(withGroup0 - before == model.footprint.groupBytes)
        _ = try model.velocity(latent: latent, t: 0.9, context: context)
        #expect(model.loadedGroups == [0, 1])
        #expect(model.residentGroup == 1)
        #expect(model.ledger.held == withGroup0, "group 0 was released before group 1 was read")
        // Streamed chunk by chunk into the float32 buffers: what the source holds is the
        // stream's bound, not the group's bytes.
        let streamBytes = try #require(source.preparedBytes(group: 1))
        #expect(streamBytes > 0 && streamBytes <= 2 * LatteLayout.decodeBatchBytes + LatteLayout.decodeScratchBytes)
    }

    @Test func outputsEqualTheSourceCheckpoints() throws {
        let (file, dir) = try convert("k2")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fromLatte = try ModelLoader.open(path: file.path)
        let fromSource = try ModelLoader.open(path: "\(Fixtures.models)/k2")
        #expect(fromLatte.config == fromSource.config)
        let inputs = try RunInputs.load(path: "\(Fixtures.models)/k2/inputs.safetensors", config: fromSource.config)
        let a = try LatteRun.execute(model: LatteModel(config: fromLatte.config, weights: fromLatte.weights), inputs: inputs, steps: 10).outputs
        let b = try LatteRun.execute(model: LatteModel(config: fromSource.config, weights: fromSource.weights), inputs: inputs, steps: 10).outputs
        // Lossless weights, same code: bit-identical outputs.
        #expect(a == b)
    }
}
