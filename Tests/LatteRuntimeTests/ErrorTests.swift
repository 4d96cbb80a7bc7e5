import Foundation
import Testing
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// Bad weights and bad inputs give errors naming the tensor, never a crash.
@Suite struct ErrorTests {
    @Test func missingWeightIsNamed() throws {
        #expect(throws: RuntimeError.missingTensor("gen.layers.5.res_gate.bias")) {
            _ = try Fixtures.model("tiny") { base in
                let s = AlteredSource(base)
                s.hidden = "gen.layers.5.res_gate.bias"
                return s
            }
        }
    }

    @Test func wrongWeightShapeIsNamed() throws {
        #expect(throws: RuntimeError.wrongShape(tensor: "model.layers.2.self_attn.k_proj.weight", expected: [32, 64], found: [64, 64])) {
            _ = try Fixtures.model("tiny") { base in
                let s = AlteredSource(base)
                s.fakeShape = ("model.layers.2.self_attn.k_proj.weight", [64, 64])
                return s
            }
        }
    }

    @Test func integerWeightIsRefused() throws {
        let dir = TempDir().path
        writeSafetensors(dir + "/w.safetensors", [SyntheticTensor(name: "w", dtype: .i32, shape: [2], bytes: bytes([Int32(1), 2]))])
        let source = DecodingWeightSource(try SafetensorsReader.open(path: dir + "/w.safetensors"))
        #expect(throws: RuntimeError.unsupportedDType(tensor: "w", dtype: .i32, allowed: FloatDecoding.weightDTypes)) {
            _ = try source.float32("w")
        }
        #expect(throws: RuntimeError.missingTensor("nope")) { _ = try source.float32("nope") }
    }

    @Test func tokenOutsideTheVocabulary() throws {
        let model = try Fixtures.model("tiny")   // vocab 256
        let path = writeInputs([("context_ids", .i64, [3], bytes([Int64(1), 256, 3]))])
        let m = errorText { _ = try RunInputs.load(path: path, config: model.config) }
        #expect(m.contains("context_ids") && m.contains("256") && m.contains(path), "\(m)")
        #expect(throws: RuntimeError.tokenOutOfRange(tensor: "context_ids", position: 0, id: -1, vocabSize: 256)) {
            _ = try model.prefill(ids: [-1])
        }
        let u = writeInputs([("context_ids", .i32, [1], bytes([Int32(1)])), ("uncond_ids", .i32, [2], bytes([Int32(0), 999]))])
        #expect(errorText { _ = try RunInputs.load(path: u, config: model.config) }.contains("'uncond_ids': token 1 is 999"))
    }

    @Test func badInputDTypesAndShapes() throws {
        let config = try Fixtures.model("tiny").config
        let floatIDs = writeInputs([("context_ids", .f32, [1], bytes([Float(1)]))])
        #expect(errorText { _ = try RunInputs.load(path: floatIDs, config: config) }.contains("tensor 'context_ids': dtype F32"))
        let f64Noise = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                                   ("noise", .f64, [4, 8, 8], bytes([Double](repeating: 0, count: 256)))])
        #expect(errorText { _ = try RunInputs.load(path: f64Noise, config: config) }.contains("tensor 'noise': dtype F64"))
        let badShape = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                                   ("noise", .f32, [4, 8, 4], bytes([Float](repeating: 0, count: 128)))])
        #expect(errorText { _ = try RunInputs.load(path: badShape, config: config) }.contains("tensor 'noise': expected shape [4, 8, 8], found [4, 8, 4]"))
        let noTimesteps = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                                      ("x_t", .f32, [1, 4, 8, 8], bytes([Float](repeating: 0, count: 256)))])
        #expect(errorText { _ = try RunInputs.load(path: noTimesteps, config: config) }.contains("tensor 'timesteps': missing"))
        let badT = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                               ("timesteps", .f32, [1], bytes([Float(1.5)])),
                               ("x_t", .f32, [1, 4, 8, 8], bytes([Float](repeating: 0, count: 256)))])
        #expect(errorText { _ = try RunInputs.load(path: badT, config: config) }.contains("tensor 'timesteps': element 0 is 1.5"))
        let orphanTimesteps = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])), ("timesteps", .f32, [1], bytes([Float(0.5)]))])
        #expect(errorText { _ = try RunInputs.load(path: orphanTimesteps, config: config) }.contains("tensor 'x_t': missing"))
        let fewTimesteps = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                                       ("timesteps", .f32, [1], bytes([Float(0.5)])),
                                       ("x_t", .f32, [2, 4, 8, 8], bytes([Float](repeating: 0, count: 512)))])
        #expect(errorText { _ = try RunInputs.load(path: fewTimesteps, config: config) }.contains("tensor 'timesteps': expected shape [2], found [1]"))
        let matrixIDs = writeInputs([("context_ids", .i64, [1, 2], bytes([Int64(1), 2]))])
        #expect(errorText { _ = try RunInputs.load(path: matrixIDs, config: config) }.contains("tensor 'context_ids': must be one-dimensional"))
        let noContext = writeInputs([("noise", .f32, [4, 8, 8], bytes([Float](repeating: 0, count: 256)))])
        #expect(errorText { _ = try RunInputs.load(path: noContext, config: config) }.contains("tensor 'context_ids': missing"))
        let nan = writeInputs([("context_ids", .i64, [1], bytes([Int64(1)])),
                              ("noise", .f32, [4, 8, 8], bytes([Float.nan] + [Float](repeating: 0, count: 255)))])
        #expect(errorText { _ = try RunInputs.load(path: nan, config: config) }.contains("tensor 'noise': element 0 is nan"))
    }

    @Test func guidanceWithoutUnconditionalContextIsAUsageError() throws {
        let model = try Fixtures.model("tiny")
        let inputs = RunInputs(contextIDs: [1, 2], noise: [Float](repeating: 0, count: 256))
        #expect {
            _ = try LatteRun.execute(model: model, inputs: inputs, steps: 2, cfgScale: 3)
        } throws: { error in
            guard case .usage = error as? RuntimeError else { return false }
            return true
        }
        // Scale 1 needs none.
        let (out, _) = try LatteRun.execute(model: model, inputs: inputs, steps: 2, cfgScale: 1)
        #expect(out.map(\.name) == ["sample", "context_hidden"])
    }

    @Test func emptyContextRuns() throws {
        let model = try Fixtures.model("tiny")
        let ctx = try model.prefill(ids: [])
        #expect(ctx.length == 0 && ctx.hidden.isEmpty)
        let v = try model.velocity(latent: [Float](repeating: 0.3, count: 256), t: 0.5, context: ctx)
        #expect(v.count == 256 && v.allSatisfy(\.isFinite))
    }
}
