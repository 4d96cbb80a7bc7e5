import Foundation
import Testing
import LatteCore
import LatteReaders
@testable import LatteRuntime

/// Every fixture model reproduces the PyTorch reference's outputs (sample, velocity,
/// context_hidden) within 2e-4 relative.
@Suite struct FixtureTests {
    /// The fixtures issue 5 asks for: F32, BF16, F16; K = 1, 2, 4; without residual
    /// attention; with guidance. All must be present (a missing one is a failure, not a skip).
    static let required = ["cfg", "k1", "k2", "nores", "tiny", "tiny-bf16", "tiny-f16"]

    @Test func requiredFixturesArePresent() {
        let found = Set(Fixtures.withExpectedOutputs)
        for name in Self.required { #expect(found.contains(name), "fixture \(name) missing under \(Fixtures.models)") }
    }

    @Test(arguments: Fixtures.withExpectedOutputs)
    func reproducesExpectedOutputs(_ name: String) throws {
        let result = try Fixtures.runAndCompare(name)
        #expect(Set(result.keys).isSuperset(of: ["context_hidden"]))
        for (key, cmp) in result.sorted(by: { $0.key < $1.key }) {
            print("fixture \(name) \(key): max abs error \(cmp.maxAbsError), relative \(cmp.relativeError)")
            #expect(cmp.passes(tolerance: Fixtures.tolerance), "\(name)/\(key): relative error \(cmp.relativeError)")
        }
    }

    /// The sharded copy of k2 holds the same weights: same outputs through the sharded reader.
    @Test func shardedWeightsReproduceK2() throws {
        let result = try Fixtures.runAndCompare("k2-sharded", reference: "k2")
        #expect(result.count == 3)
        for (key, cmp) in result { #expect(cmp.passes(tolerance: Fixtures.tolerance), "k2-sharded/\(key): \(cmp.relativeError)") }
    }

    /// The PyTorch copies of k2 (zip `.bin` and legacy, with fused-storage and transposed
    /// views) run to k2's expected outputs.
    @Test(arguments: ["k2-bin", "k2-legacy"])
    func torchWeightsReproduceK2(_ name: String) throws {
        let result = try Fixtures.runAndCompare(name, reference: "k2")
        #expect(result.count == 3)
        for (key, cmp) in result { #expect(cmp.passes(tolerance: Fixtures.tolerance), "\(name)/\(key): \(cmp.relativeError)") }
    }

    /// A single perturbed weight makes the comparison fail, for a replica weight (sample and
    /// velocity move) and a context weight (context_hidden moves too).
    @Test func perturbedWeightFailsTheComparison() throws {
        var replica: AlteredSource?
        let r = try Fixtures.runAndCompare("tiny") { base in
            let s = AlteredSource(base)
            s.perturb = ("gen.layers.1.mlp.down_proj.weight", 5, 0.05)
            replica = s
            return s
        }
        #expect(replica != nil)
        #expect(!r["sample"]!.passes(tolerance: Fixtures.tolerance))
        #expect(!r["velocity"]!.passes(tolerance: Fixtures.tolerance))
        #expect(r["context_hidden"]!.passes(tolerance: Fixtures.tolerance))

        let c = try Fixtures.runAndCompare("tiny") { base in
            let s = AlteredSource(base)
            s.perturb = ("model.layers.7.self_attn.v_proj.weight", 3, 0.05)
            return s
        }
        #expect(!c["context_hidden"]!.passes(tolerance: Fixtures.tolerance))
    }

    @Test func comparisonMeasuresRelativeToTheLargestExpectedValue() {
        let c = OutputComparison(actual: [1, 2.001, -4], expected: [1, 2, -4])
        #expect(abs(c.maxAbsError - 0.001) < 1e-6)
        #expect(c.maxAbsExpected == 4)
        #expect(abs(c.relativeError - 0.00025) < 1e-6)
        #expect(!c.passes(tolerance: 2e-4))
        #expect(!OutputComparison(actual: [.nan], expected: [1]).passes(tolerance: 2e-4))
    }
}
