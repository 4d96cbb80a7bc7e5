import Foundation
import Testing
import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
@testable import LatteRuntime

/// An embedded reference is read into memory (nothing gets a name on disk, so a crash or a
/// kill leaves nothing), and a plain `verify` runs it only within its work budget.
@Suite struct EmbeddedReferenceTests {
    /// Fixture `name` converted with its reference folder embedded, in a fresh folder.
    func convertWithReference(_ name: String) throws -> (path: String, dir: String) {
        let dir = try temporaryFolder()
        let source = "\(Fixtures.models)/\(name)"
        let mapped = try MappedCheckpoint(checkpoint: CheckpointReader.open(path: source), source: source)
        var options = LatteWriteOptions()
        options.configPath = mapped.configPath
        options.embeddedFiles = try EmbeddedReference.files(inFolder: "\(Fixtures.models)/\(name)")
        let path = dir + "/\(name).latte"
        _ = try LatteWriter.write(mapped.checkpoint, plan: mapped.plan.sectionPlan, to: path, options: options)
        return (path, dir)
    }

    /// The `latte-reference-*` entries of /tmp (where earlier versions unpacked references).
    func referenceFolders() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: "/tmp").filter { $0.hasPrefix("latte-reference-") })
    }

    /// A /proc file read to its end: `String(contentsOfFile:)` trusts the size that /proc
    /// reports (zero or one page) and returns a prefix of a long `maps`.
    func procText(_ path: String) -> String {
        guard let h = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? h.close() }
        return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Paths the process `pid` has open or mapped, from /proc.
    func openPaths(_ pid: Int32) -> [String] {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
        let links = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
        let maps = procText("/proc/\(pid)/maps")
        let mapped = maps.split(separator: "\n").compactMap { line in line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map(String.init) }
        return links + mapped
    }

    @Test func embeddedReferenceIsReadIntoMemory() throws {
        let (path, dir) = try convertWithReference("k2")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let before = try referenceFolders()
        let loaded = try ModelLoader.open(path: path)
        let set = try #require(try ReferenceSet.load(embeddedIn: loaded.latteFile!))
        #expect(set.isEmbedded)
        #expect(set.inputs is InMemorySafetensors && set.expected is InMemorySafetensors)
        #expect(set.inputsOrigin == path + ":reference/inputs.safetensors")
        #expect((set.steps, set.cfgScale) == (10, 1))
        // Nothing named on disk while the set is alive: no new folder, no open or mapped file but the model's.
        #expect(try referenceFolders() == before)
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

    /// The built `latte` beside the test bundle (the CLI tests find it the same way).
    var latteExecutable: String {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for dir in [bundle, bundle.deletingLastPathComponent()] where FileManager.default.isExecutableFile(atPath: dir.path + "/latte") {
            return dir.path + "/latte"
        }
        return Fixtures.repoRoot + "/.build/debug/latte"
    }

    @Test func aKilledVerifyLeavesNothing() throws {
        // A reference run that takes minutes (10,000 steps at 4096 image tokens), run anyway
        // and killed with SIGKILL in the middle of its steps.
        let before = try referenceFolders()
        let file = Fixtures.hostile + "/run_json_over_work_budget.latte"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: latteExecutable)
        p.arguments = ["verify", file, "--allow-long-reference"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        // Wait until it is sampling: it has mapped the model, its RSS holds the step workspace.
        var paths: [String] = []
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            paths = openPaths(p.processIdentifier)
            let status = procText("/proc/\(p.processIdentifier)/status")
            let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }.flatMap { Int($0.split(separator: " ")[1]) } ?? 0
            if paths.contains(file) && rss > 100_000 { break }
            usleep(20_000)
        }
        #expect(p.isRunning, "the reference run should still be running")
        #expect(paths.contains(file))
        #expect(!paths.contains { $0.contains("latte-reference") || $0.hasSuffix("/inputs.safetensors") }, "\(paths)")
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        #expect(p.terminationReason == .uncaughtSignal)
        #expect(try referenceFolders().subtracting(before).isEmpty)
    }
}
