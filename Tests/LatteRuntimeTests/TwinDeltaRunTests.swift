import Testing
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// The runtime on a `.latte` file whose replica layers are coded as twin deltas against the
/// context layers (issue 13's format, issue 14's streamed group reads): the outputs are those
/// of the same weights read from safetensors, to the bit.
@Suite struct TwinDeltaRunTests {
    /// The BF16 tiny model with every replica tensor that has a context twin replaced by that
    /// twin with a few low mantissa bits flipped: a replica that started as a copy.
    static func driftedModel(_ dir: TempDir) throws -> String {
        let source = try CheckpointReader.open(path: "\(Fixtures.models)/tiny-bf16/model.safetensors")
        var rng = SplitMix(state: 5)
        var tensors: [SyntheticTensor] = []
        for e in source.tensors {
            var bytes = try source.bytes(of: e).withUnsafeBytes { Array($0) }
            if e.name.hasPrefix("gen.layers."), let twin = source.tensor(named: "model.layers." + e.name.dropFirst("gen.layers.".count)),
               twin.dtype == e.dtype, twin.shape == e.shape {
                bytes = try source.bytes(of: twin).withUnsafeBytes { Array($0) }
                for i in stride(from: 0, to: bytes.count, by: 2) where rng.next() % 4 == 0 { bytes[i] ^= 0x01 }
            }
            tensors.append(SyntheticTensor(name: e.name, dtype: e.dtype, shape: e.shape, bytes: bytes))
        }
        writeSafetensors(dir.file("model.safetensors"), tensors)
        writeFile(dir.file("config.json"), readFile("\(Fixtures.models)/tiny-bf16/config.json"))
        return dir.file("model.safetensors")
    }

    @Test func deltaCodedReplicaRunsAsTheSource() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = try Self.driftedModel(dir)
        let mapped = try MappedCheckpoint(checkpoint: CheckpointReader.open(path: path), source: path)
        var options = LatteWriteOptions()
        options.configPath = mapped.configPath
        options.chunkSize = 4096   // several chunks per matrix
        _ = try LatteWriter.write(mapped.checkpoint, plan: mapped.plan.sectionPlan, to: dir.file("m.latte"), options: options)
        let file = try LatteFile(path: dir.file("m.latte"))
        let deltas = file.tensors.filter { $0.chunks.contains { $0.xorTwin } }.count
        #expect(deltas > 0, "the replica is coded against its twins")

        let inputs = "\(Fixtures.models)/tiny-bf16/inputs.safetensors"
        func outputs(_ model: String) throws -> [OutputTensor] {
            let loaded = try ModelLoader.open(path: model)
            let run = try LatteRun.run(loaded, inputsPath: inputs, steps: 8, cfgScale: 1, memoryBudget: nil)
            return run.outputs
        }
        let fromLatte = try outputs(dir.file("m.latte"))
        let fromSource = try outputs(dir.path)
        #expect(fromLatte.map(\.name) == fromSource.map(\.name))
        #expect(fromLatte == fromSource, "bit-identical outputs")
    }
}
