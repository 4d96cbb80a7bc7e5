import Testing
import LatteCore
import LatteMapper
@testable import LatteRuntime

/// Timestep -> group, compared in float64: a step exactly on a boundary is the later group's.
@Suite struct GroupSelectionTests {
    @Test func uniformBoundariesAtExactSteps() throws {
        let model = try Fixtures.model("tiny")   // K = 4, boundaries k/4
        #expect(model.group(ofTimestep: 0) == 0)
        #expect(model.group(ofTimestep: 0.25) == 1)
        #expect(model.group(ofTimestep: 0.25.nextDown) == 0)
        #expect(model.group(ofTimestep: 0.5) == 2)
        #expect(model.group(ofTimestep: 0.75) == 3)
        #expect(model.group(ofTimestep: 1) == 3, "capped at K-1")
        // Sampling with 8 steps: t = i/8, two steps per group.
        #expect((0 ..< 8).map { model.group(ofTimestep: Double($0) / 8) } == [0, 0, 1, 1, 2, 2, 3, 3])
    }

    @Test func customBoundaryHitExactlyByAStep() throws {
        let model = try Fixtures.model("k2")     // boundaries [0, 0.3, 1]
        #expect(model.config.timestepBoundaries == [0, 0.3, 1])
        // 10 steps: t = 3/10 == 0.3 in float64 -> group 1.
        #expect((0 ..< 10).map { model.group(ofTimestep: Double($0) / 10) } == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
        #expect(model.group(ofTimestep: 0.3.nextDown) == 0)
        // A float32 timestep is widened exactly: Float(0.3) is just above 0.3, its predecessor below.
        #expect(model.group(ofTimestep: Double(Float(0.3))) == 1)
        #expect(model.group(ofTimestep: Double(Float(0.3).nextDown)) == 0)
    }

    @Test func sampleRunsTheGroupOfEachStep() throws {
        let model = try Fixtures.model("k2")
        let ctx = try model.prefill(ids: [1, 2])
        var groups: [Int] = []
        _ = try model.sample(noise: [Float](repeating: 0, count: 4 * 4 * 6), steps: 10, context: ctx) { _, _, g in groups.append(g) }
        #expect(groups == [0, 0, 0, 1, 1, 1, 1, 1, 1, 1])
    }
}
