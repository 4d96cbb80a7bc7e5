import Testing
import LatteCore
@testable import LatteRuntime

/// Attention goes through query rows in blocks so that its scores take memory linear in the
/// keys: any block size gives the outputs of a single block.
@Suite struct AttentionBlockTests {
    @Test(arguments: ["tiny", "cfg", "nores"])
    func smallBlocksGiveTheSameOutputs(_ name: String) throws {
        let folder = "\(Fixtures.models)/\(name)"
        let s = try Fixtures.settings(folder)
        let whole = try Fixtures.model(name), blocked = try Fixtures.model(name)
        // 40 scores at a time: the prefill's T x T and the steps' N x (T + N) both split into
        // blocks of one to a few rows (the fixtures have T <= 8, N <= 16).
        blocked.scoreBlock = 40
        let inputs = try RunInputs.load(path: folder + "/inputs.safetensors", config: whole.config)
        let a = try LatteRun.execute(model: whole, inputs: inputs, steps: s.steps, cfgScale: s.cfgScale).outputs
        let b = try LatteRun.execute(model: blocked, inputs: inputs, steps: s.steps, cfgScale: s.cfgScale).outputs
        #expect(a.map(\.name) == b.map(\.name))
        for (x, y) in zip(a, b) {
            let c = OutputComparison(actual: y.values, expected: x.values)
            #expect(c.relativeError < 1e-5, "\(name) \(x.name): \(c.relativeError)")
        }
        #expect(LatteModel.blockRows(rows: 8, keys: 8, block: 40) == 5)
        #expect(LatteModel.blockRows(rows: 8, keys: 100, block: 40) == 1, "at least one row")
    }

    @Test func aLongContextIsPrefilledInBlocks() throws {
        // 4096 tokens: 1024-row blocks of the default 2^22 scores. Row 2000 (in the second
        // block) must equal the last row of a 2001-token prefill, which fits in one block.
        let model = try Fixtures.model("k2")   // vocab 64
        let ids = (0 ..< 4096).map { ($0 * 7 + 3) % 64 }
        #expect(LatteModel.blockRows(rows: 4096, keys: 4096, block: model.scoreBlock) == 1024)
        #expect(LatteModel.blockRows(rows: 2001, keys: 2001, block: model.scoreBlock) == 2001)
        let long = try model.prefill(ids: ids).hidden
        let short = try model.prefill(ids: Array(ids[0 ... 2000])).hidden
        let d = model.config.hiddenSize
        let c = OutputComparison(actual: Array(long[2000 * d ..< 2001 * d]), expected: Array(short[2000 * d ..< 2001 * d]))
        #expect(c.relativeError < 1e-5, "\(c.relativeError)")
    }
}
