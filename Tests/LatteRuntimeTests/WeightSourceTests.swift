import Foundation
import Testing
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime

/// The decoding weight source over a checkpoint held in memory gives the outputs of the
/// mapped one, its `prepare` is called once per group used, and memory's pages are never
/// handed back (they would read as zeros).
@Suite struct WeightSourceTests {
    /// Fixture `name`'s `model.safetensors`, read into memory.
    func inMemory(_ name: String) throws -> Checkpoint {
        let path = "\(Fixtures.models)/\(name)/model.safetensors"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        return try SafetensorsReader.open(region: MemoryRegion(copying: bytes, label: "memory:" + name))
    }

    @Test func inMemoryCheckpointReproducesTheFixture() throws {
        let dir = Fixtures.models + "/tiny-bf16"
        let checkpoint = try inMemory("tiny-bf16")
        #expect(checkpoint.files.allSatisfy { $0 is MemoryRegion })
        let source = RecordingSource(DecodingWeightSource(checkpoint))
        let config = try ModelConfig.load(path: dir + "/config.json")
        let model = try LatteModel(config: config, weights: source)
        let inputs = try RunInputs.load(path: dir + "/inputs.safetensors", config: config)
        let (outputs, _) = try LatteRun.execute(model: model, inputs: inputs, steps: 8)
        let expected = try Fixtures.tensors(dir + "/expected.safetensors")
        for out in outputs {
            let cmp = OutputComparison(actual: out.values, expected: try #require(expected[out.name]).values)
            #expect(cmp.passes(tolerance: Fixtures.tolerance), "\(out.name): \(cmp.relativeError)")
        }
        // Sampling reads each group once, in order; the velocity evaluations then take the
        // group held (3) first and read 0, 1 and 2 again: one group is held at a time.
        #expect(source.prepared == [0, 1, 2, 3, 0, 1, 2])
        #expect(throws: RuntimeError.missingTensor("nope")) { _ = try source.float32("nope") }
    }

    @Test func inMemoryAndMappedSourcesDecodeAlike() throws {
        for name in ["tiny", "tiny-bf16", "tiny-f16"] {
            let memory = DecodingWeightSource(try inMemory(name))
            let mapped = DecodingWeightSource(try CheckpointReader.open(path: "\(Fixtures.models)/\(name)"))
            #expect(memory.store.tensors == mapped.store.tensors)
            for t in mapped.store.tensors {
                let first = try memory.float32(t.name)
                // The 64 KiB tensors cover whole pages: released memory would read back as zeros.
                #expect(try memory.float32(t.name) == first, "\(name): \(t.name) changed on a second read from memory")
                #expect(try mapped.float32(t.name) == first, "\(name): \(t.name)")
                #expect(try mapped.float32(t.name) == first, "\(name): \(t.name) changed once its pages were released")
                #expect(memory.readScratchBytes(t.name) == 0 && mapped.readScratchBytes(t.name) == 0)
            }
            #expect(memory.preparedBytes(group: 0) == 0)
        }
    }

    @Test func rowsAreThoseOfTheWholeTensor() throws {
        let source = DecodingWeightSource(try inMemory("tiny-bf16"))
        let name = "model.embed_tokens.weight"
        let shape = try #require(source.shape(name))
        let all = try source.float32(name)
        let width = shape[1], rows = [3, 0, shape[0] - 1, 3]
        var out = [Float](repeating: .nan, count: rows.count * width)
        try out.withUnsafeMutableBufferPointer { try source.readRows(name, rows: rows, into: $0) }
        #expect(out == rows.flatMap { all[$0 * width ..< ($0 + 1) * width] })
        #expect(throws: RuntimeError.badInput(tensor: name, reason: "row \(shape[0]) outside 0 ..< \(shape[0])")) {
            try out.withUnsafeMutableBufferPointer { try source.readRows(name, rows: [0, shape[0], 1, 2], into: $0) }
        }
        #expect(throws: RuntimeError.wrongByteCount(tensor: name, expected: 4, found: 4 * width)) {
            var one = [Float](repeating: 0, count: 1)
            try one.withUnsafeMutableBufferPointer { try source.readRows(name, rows: [0], into: $0) }
        }
    }
}
