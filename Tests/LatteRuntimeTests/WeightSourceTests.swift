import Testing
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime

/// The closure-built source (how a `.latte` file plugs in) gives the same outputs as the
/// checkpoint source, and its `prepare` is called once per group used.
@Suite struct WeightSourceTests {
    @Test func closureSourceReproducesTheFixture() throws {
        let dir = Fixtures.models + "/tiny-bf16"
        let checkpoint = try CheckpointReader.open(path: dir)
        var prepared: [Int] = []
        let source = ClosureWeightSource(
            shape: { checkpoint.tensor(named: $0)?.shape },
            withBytes: { name, body in
                guard let e = checkpoint.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
                try checkpoint.bytes(of: e).withUnsafeBytes { try body(e.dtype, $0) }
            },
            prepare: { prepared.append($0) })
        let config = try ModelConfig.load(path: checkpoint.configPath!)
        let model = try LatteModel(config: config, weights: source)
        let inputs = try RunInputs.load(path: dir + "/inputs.safetensors", config: config)
        let (outputs, _) = try LatteRun.execute(model: model, inputs: inputs, steps: 8)
        let expected = try Fixtures.tensors(dir + "/expected.safetensors")
        for out in outputs {
            let cmp = OutputComparison(actual: out.values, expected: expected[out.name]!.values)
            #expect(cmp.passes(tolerance: Fixtures.tolerance), "\(out.name): \(cmp.relativeError)")
        }
        #expect(prepared == [0, 1, 2, 3])
        #expect(throws: RuntimeError.missingTensor("nope")) { _ = try source.float32("nope") }
    }
}
