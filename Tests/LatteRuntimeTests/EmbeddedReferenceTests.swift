import Foundation
import Testing
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
@testable import LatteRuntime
import LatteTestSupport

/// An embedded reference is read into memory (nothing gets a name on disk, so a crash or a
/// kill leaves nothing), and a plain `verify` runs it only within its work budget.
@Suite struct EmbeddedReferenceTests {
    /// Fixture `name` converted with its reference folder embedded, in a fresh folder.
    func convertWithReference(_ name: String) throws -> (path: String, dir: String) {
        let dir = TempDir().path
        let source = "\(Fixtures.models)/\(name)"
        let mapped = try MappedCheckpoint(checkpoint: CheckpointReader.open(path: source), source: source)
        var options = LatteWriteOptions()
        options.configPath = mapped.configPath
        options.embeddedFiles = try EmbeddedReference.files(inFolder: "\(Fixtures.models)/\(name)")
        let path = dir + "/\(name).latte"
        _ = try LatteWriter.write(mapped.checkpoint, plan: mapped.plan.sectionPlan, to: path, options: options)
        return (path, dir)
    }

    @Test func embeddedReferenceIsReadIntoMemory() throws {
        let (path, dir) = try convertWithReference("k2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = referenceFolders()
        let loaded = try ModelLoader.open(path: path)
        let set = try #require(try ReferenceSet.load(embeddedIn: loaded.latteFile!))
        #expect(set.isEmbedded)
        #expect((set.inputs.files + set.expected.files).allSatisfy { $0 is MemoryRegion })
        #expect(set.inputsOrigin == path + ":reference/inputs.safetensors")
        #expect((set.steps, set.cfgScale) == (10, 1))
        // Nothing named on disk while the set is alive: no new folder, no open or mapped file but the model's.
        #expect(referenceFolders() == before)
        let ours = openPaths(getpid()).filter { $0.hasPrefix("/tmp/") || $0.hasPrefix(NSTemporaryDirectory()) }
        #expect(ours.allSatisfy { $0 == path || !$0.contains("latte-reference") }, "\(ours)")
        #expect(!ours.contains { $0.hasSuffix("inputs.safetensors") || $0.hasSuffix("expected.safetensors") }, "\(ours)")
        let results = try ReferenceCheck.run(model: loaded, reference: set, workBudget: .automatic)
        #expect(results.map(\.name).sorted() == ["context_hidden", "sample", "velocity"])
        #expect(results.allSatisfy { $0.passed })
    }

    @Test func workBudgetOfAPlainVerify() throws {
        let (path, dir) = try convertWithReference("k2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let loaded = try ModelLoader.open(path: path)
        let set = try #require(try ReferenceSet.load(embeddedIn: loaded.latteFile!))
        // k2's reference costs ~9.3e6 operations: past a budget of 10^6 it is refused before any work.
        let source = RecordingSource(loaded.weights)
        let recorded = LoadedModel(path: loaded.path, config: loaded.config, weights: source, latteFile: loaded.latteFile, files: loaded.files)
        let message = errorText { _ = try ReferenceCheck.run(model: recorded, reference: set, workBudget: .operations(1e6)) }
        #expect(message.hasPrefix("\(path): the embedded reference run needs about 9."), "\(message)")
        #expect(message.contains("operations (10 steps × 1 pass, 8 velocity evaluations, 2 layers × 6 image tokens, context 5 tokens through 4 layers of width 16)"), "\(message)")
        #expect(message.contains("above verify's budget of 1.00e+06 for a model of 26624 parameters; run it anyway with --allow-long-reference, or check only the weights with --weights-only"), "\(message)")
        #expect(source.prepared.isEmpty && source.replicaLayersRead.isEmpty, "no group was read for the refused run")
        #expect(try ReferenceCheck.run(model: loaded, reference: set, workBudget: .operations(1e8)).allSatisfy { $0.passed })
        #expect(ReferenceCheck.automaticWorkBudget(parameters: 26624) == 1e10)
        #expect(ReferenceCheck.automaticWorkBudget(parameters: 3_126_598_496) == 2000 * 3_126_598_496)
    }

    /// The paper's 2B model (zero weights of its shapes): a small reference (16 tokens, a
    /// 32 x 32 latent, 8 steps) fits a plain verify's work budget, 40 guided steps at
    /// 1024 x 1024 do not.
    @Test func realisticReferencesAndTheWorkBudget() throws {
        func model(latent: Int) throws -> LatteModel {
            let c = try latteConfig(hidden: 1536, intermediate: 8960, layers: 28, heads: 12, kvHeads: 2, vocab: 151_936,
                                    groups: 4, latent: [latent, latent])
            return try LatteModel(config: c, weights: ShapeOnlySource(c), memoryBudget: .max)
        }
        let small = try model(latent: 32)
        let budget = ReferenceCheck.automaticWorkBudget(parameters: small.footprint.parameters)
        #expect(budget > 6e12 && budget < 6.5e12)
        let reference = RunInputs(contextIDs: [Int](repeating: 1, count: 16), noise: [Float](repeating: 0, count: 4 * 32 * 32))
        #expect(LatteRun.estimate(model: small, inputs: reference, steps: 8).operations < budget)
        let large = try model(latent: 128)
        let guided = RunInputs(contextIDs: [Int](repeating: 1, count: 512), uncondIDs: [Int](repeating: 1, count: 512),
                               noise: [Float](repeating: 0, count: 4 * 128 * 128))
        #expect(LatteRun.estimate(model: large, inputs: guided, steps: 40, cfgScale: 4).operations > 10 * budget)
    }

    @Test func hostileEmbeddedReferences() throws {
        func verify(_ file: String, work: WorkBudget = .automatic) -> String {
            let path = Fixtures.hostile + "/" + file
            return errorText {
                let loaded = try ModelLoader.open(path: path)
                guard let set = try ReferenceSet.load(embeddedIn: loaded.latteFile!) else { throw EmbeddedReferenceError.missingFile }
                _ = try ReferenceCheck.run(model: loaded, reference: set, workBudget: work)
            }
        }
        let h = Fixtures.hostile
        #expect(verify("run_json_100000_guided.latte") == "\(h)/run_json_100000_guided.latte:reference/run.json: 'steps' is 100000, above the limit of 10000 steps")
        #expect(verify("run_json_steps_string.latte").hasSuffix(#"'steps' must be an integer, found "100000""#))
        #expect(verify("run_json_steps_fraction.latte").hasSuffix("'steps' must be an integer, found 8.5"))
        #expect(verify("run_json_cfg_1e30.latte").hasSuffix("'cfg_scale' is 1e+30, outside the limit of -100.0 ... 100.0"))
        let work = verify("run_json_over_work_budget.latte")
        #expect(work.hasPrefix("\(h)/run_json_over_work_budget.latte: the embedded reference run needs about 8.78e+12 operations"), "\(work)")
        #expect(work.contains("(10000 steps × 1 pass, 1 layer × 4096 image tokens,") && work.contains("above verify's budget of 1.00e+10"), "\(work)")
        let maps = verify("stored_latent_maps_4gib.latte")
        #expect(maps.hasPrefix("\(h)/stored_latent_maps_4gib.latte: the run needs about 4.02 GiB (residual-attention maps 4.00 GiB"), "\(maps)")
        #expect(verify("stored_latent_2p40.latte").hasSuffix("makes 1099511627776 image tokens, above the limit of 16384"))
        #expect(verify("embedded_ctx_40000.latte")
            == "\(h)/embedded_ctx_40000.latte:reference/inputs.safetensors: tensor 'context_ids': 40000 tokens, above the limit of 32768 context tokens")
        #expect(verify("embedded_xt_1025.latte").hasSuffix("tensor 'x_t': 1025 velocity evaluations, above the limit of 1024"))
    }
}
