import Foundation
import Testing
import LatteCore
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// The memory a run needs is estimated up front, in checked arithmetic, and refused past the
/// budget before anything is allocated; every float buffer is reserved in the model's
/// ledger against the same budget; the estimate bounds what the ledger really holds.
@Suite struct MemoryBudgetTests {
    @Test func estimateBoundsWhatEachFixtureRunHolds() throws {
        for name in Fixtures.withExpectedOutputs {
            let folder = "\(Fixtures.models)/\(name)"
            let model = try Fixtures.model(name)
            let inputs = try RunInputs.load(path: folder + "/inputs.safetensors", config: model.config)
            let s = try Fixtures.settings(folder)
            let estimate = LatteRun.estimate(model: model, inputs: inputs, steps: s.steps, cfgScale: s.cfgScale)
            _ = try LatteRun.execute(model: model, inputs: inputs, steps: s.steps, cfgScale: s.cfgScale)
            let held = try #require(estimate.modelBytes), peak = model.ledger.peak
            // An upper bound, and a tight one: the estimate counts the buffers the run allocates.
            #expect(peak <= held, "\(name): ledger peak \(peak) above the estimate \(held)")
            #expect(Double(held) <= Double(peak) * 1.1 + 4096, "\(name): estimate \(held) far above the peak \(peak)")
            #expect(try #require(estimate.peakBytes) >= held)
        }
    }

    @Test func aRunPastTheBudgetIsRefusedBeforeAnyAllocation() throws {
        let checkpoint = try CheckpointReader.open(path: "\(Fixtures.models)/tiny")
        let config = try ModelConfig.load(path: checkpoint.configPath!)
        let model = try LatteModel(config: config, weights: DecodingWeightSource(checkpoint), memoryBudget: 1 << 18)
        let inputs = try RunInputs.load(path: "\(Fixtures.models)/tiny/inputs.safetensors", config: config)
        let before = model.ledger.peak
        let message = errorText { _ = try LatteRun.execute(model: model, inputs: inputs, steps: 8) }
        #expect(message.hasPrefix("the run needs about "), "\(message)")
        #expect(message.contains("above the memory budget of 256.0 KiB (set another with --memory-budget)"), "\(message)")
        #expect(model.ledger.peak == before, "the refused run allocated \(model.ledger.peak - before) bytes")
        #expect(model.loadedGroups.isEmpty)
    }

    @Test func theLedgerRefusesDirectCallsPastTheBudget() throws {
        let checkpoint = try CheckpointReader.open(path: "\(Fixtures.models)/k2")
        let config = try ModelConfig.load(path: checkpoint.configPath!)
        // Below the shared weights: the model is not built.
        #expect(errorText { _ = try LatteModel(config: config, weights: DecodingWeightSource(checkpoint), memoryBudget: 1000) }
            .contains("above the memory budget of 1000 B"))
        // Enough for the model, not for a 30,000-token context state: prefill refuses, naming it.
        let model = try LatteModel(config: config, weights: DecodingWeightSource(checkpoint), memoryBudget: 4 << 20)
        let message = errorText { _ = try model.prefill(ids: [Int](repeating: 1, count: 30_000)) }
        #expect(message.contains("the context state of 30000 tokens would need"), "\(message)")
        #expect(message.contains("above the memory budget of 4.00 MiB"), "\(message)")
        #expect(model.ledger.held <= model.ledger.budget)
    }

    @Test func hostileLatentGetsNoAttentionMaps() throws {
        // A 128 x 128 latent at patch 1 over weights of width 8: two 2 GiB maps. The automatic
        // budget (twice the weights plus 512 MiB) refuses it before the prefill.
        let folder = Fixtures.hostile + "/model_latent_maps_4gib"
        let checkpoint = try CheckpointReader.open(path: folder)
        let config = try ModelConfig.load(path: folder + "/config.json")
        let model = try LatteModel(config: config, weights: DecodingWeightSource(checkpoint))
        #expect(model.memoryBudget == min(MemoryBudget.floorBytes + 2 * model.footprint.weightBytes, MemoryBudget.machineBytes / 4 * 3))
        let inputs = try RunInputs.load(path: Fixtures.hostile + "/inputs_maps_4gib.safetensors", config: config)
        let message = errorText { _ = try LatteRun.execute(model: model, inputs: inputs, steps: 1) }
        #expect(message.hasPrefix("the run needs about 4.02 GiB (residual-attention maps 4.00 GiB, step workspace"), "\(message)")
        #expect(message.contains("above the memory budget of 512.0"), "\(message)")
        #expect(model.ledger.peak < 1 << 20)
    }

    @Test func automaticBudget() {
        let gib = 1 << 30
        #expect(MemoryBudget.automatic(weightBytes: 10, machine: 1 << 40) == (512 << 20) + 20)
        // The paper's 2B model: 12.5 GB of float32 weights; on 24 GiB the cap is 18 GiB.
        #expect(MemoryBudget.automatic(weightBytes: 12_506_393_984, machine: 24 * gib) == 18 * gib)
        #expect(MemoryBudget.automatic(weightBytes: Int.max / 2 + 1, machine: 24 * gib) == 18 * gib, "overflow is the cap")
        #expect(MemoryBudget.machineBytes > 0)
    }

    @Test func memoryBudgetOption() {
        #expect(MemoryBudget.parse("512M") == 512 << 20)
        #expect(MemoryBudget.parse("8G") == 8 << 30)
        #expect(MemoryBudget.parse("8GiB") == 8 << 30)
        #expect(MemoryBudget.parse("1.5g") == 3 << 29)
        #expect(MemoryBudget.parse("100") == 100)
        #expect(MemoryBudget.parse("2T") == 2 << 40)
        for bad in ["", "abc", "0", "-1", "1e30", "G", "nan", "inf", "8X"] { #expect(MemoryBudget.parse(bad) == nil, "\(bad)") }
    }

    @Test func checkedSizes() throws {
        #expect(Checked.product(1 << 31, 1 << 31) == 1 << 62)
        #expect(Checked.product(1 << 32, 1 << 32) == nil)
        #expect(Checked.product(3, nil) == nil)
        #expect(Checked.product(-1, 2) == nil)
        #expect(Checked.sum(Int.max, 1) == nil)
        #expect(Checked.floats(Int.max / 2) == nil)
        let ledger = MemoryLedger(budget: 100)
        #expect(errorText { _ = try FloatBuffer(nil, in: ledger, for: "a 2^80-element map") }
            == "a 2^80-element map would need more memory than 64-bit sizes can count")
        #expect(errorText { _ = try FloatBuffer(Int.max / 2, in: ledger, for: "a huge buffer") }
            .contains("more memory than 64-bit sizes can count"))
        do {
            let b = try FloatBuffer(25, in: ledger, for: "x")
            #expect(ledger.held == 100 && b.count == 25)
            #expect(errorText { _ = try FloatBuffer(1, in: ledger, for: "one more") } == "one more would need 4 B on top of the 100 B held, above the memory budget of 100 B")
        }
        #expect(ledger.held == 0, "freed buffers give their bytes back")
        #expect(ledger.peak == 100)
    }

    /// The paper's model (Qwen2-VL-2B's decoder, K = 4) and a 7B-class width, through the
    /// estimate with zero weights: at 1024 x 1024 with guidance both fit this 24 GB
    /// machine's automatic budget, the 7B one because one replica group is held at a time
    /// (its four groups alone are 32 GB in float32).
    @Test func realisticShapes() throws {
        let gib = 1 << 30
        let twoB = try latteConfig(hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, vocab: 151_936,
                                   groups: 4, latent: [128, 128])
        let model = try LatteModel(config: twoB, weights: ShapeOnlySource(twoB), memoryBudget: .max)
        let noise = [Float](repeating: 0, count: 4 * 128 * 128)
        let guided = RunInputs(contextIDs: [Int](repeating: 1, count: 512), uncondIDs: [Int](repeating: 1, count: 512), noise: noise)
        let e = LatteRun.estimate(model: model, inputs: guided, steps: 40, cfgScale: 4, groupsHeld: 1)
        let peak = try #require(e.peakBytes)
        // An unlimited budget holds two groups: the next one is prefetched.
        let prefetching = LatteRun.estimate(model: model, inputs: guided, steps: 40, cfgScale: 4)
        #expect(prefetching.prefetches && !e.prefetches)
        #expect(prefetching.peakBytes == peak + model.footprint.groupBytes)
        // One replica group at a time (1.47 GiB), the maps and workspace of 4,096 image tokens.
        #expect(peak > 3 * gib && peak < 5 * gib, "\(e.memoryDescription)")
        #expect(peak <= MemoryBudget.automatic(weightBytes: model.footprint.weightBytes, machine: 24 * gib))

        let sevenB = try latteConfig(hidden: 3584, intermediate: 18944, layers: 28, heads: 28, kvHeads: 4, vocab: 152_064,
                                     groups: 4, latent: [128, 128])
        let footprint = try ModelFootprint(Dims(sevenB))
        #expect(Checked.product(4, footprint.groupBytes)! > 18 * gib, "all four groups would not fit")
        let budget = MemoryBudget.automatic(weightBytes: footprint.weightBytes, machine: 24 * gib)
        let seven = try LatteModel(config: sevenB, weights: ShapeOnlySource(sevenB), memoryBudget: budget)
        // Two groups do not fit this machine's budget: one is held at a time, no prefetch.
        let e7 = LatteRun.estimate(model: seven, inputs: guided, steps: 40, cfgScale: 4)
        let peak7 = try #require(e7.peakBytes)
        #expect(!e7.prefetches, "\(e7.memoryDescription)")
        #expect(peak7 < 16 * gib && peak7 <= budget, "one group at a time: a 7B-class model is verified on a 24 GB machine")
    }
}
