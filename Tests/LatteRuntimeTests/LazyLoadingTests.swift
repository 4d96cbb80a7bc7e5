import Testing
import LatteCore
@testable import LatteRuntime

/// Replica groups are read only when a step of theirs runs, once; other groups never.
@Suite struct LazyLoadingTests {
    @Test func velocityAtOneGroupReadsOnlyThatGroup() throws {
        var recorder: RecordingSource!
        let model = try Fixtures.model("tiny") { base in
            recorder = RecordingSource(base)
            return recorder
        }
        // tiny: K = 4, boundaries 0, .25, .5, .75, 1; M = 2 layers per group.
        #expect(model.loadedGroups.isEmpty)
        #expect(recorder.replicaLayersRead.isEmpty)
        #expect(recorder.prepared.isEmpty)
        let ctx = try model.prefill(ids: [1, 2, 3])
        #expect(recorder.replicaLayersRead.isEmpty)
        let z = [Float](repeating: 0.5, count: 4 * 8 * 8)
        for t in [0.25, 0.3, 0.49999] { _ = try model.velocity(latent: z, t: t, context: ctx) }
        #expect(model.loadedGroups == [1])
        #expect(recorder.prepared == [1])
        #expect(recorder.replicaLayersRead == [2, 3])
        let readsAfterFirst = recorder.reads.filter { $0.hasPrefix("gen.") }.count
        _ = try model.velocity(latent: z, t: 0.4, context: ctx)
        #expect(recorder.reads.filter { $0.hasPrefix("gen.") }.count == readsAfterFirst, "group 1 read again")
        _ = try model.velocity(latent: z, t: 0.75, context: ctx)
        #expect(model.loadedGroups == [1, 3])
        #expect(recorder.prepared == [1, 3])
        #expect(recorder.replicaLayersRead == [2, 3, 6, 7])
    }

    @Test func oneSamplingStepReadsOnlyTheFirstGroup() throws {
        var recorder: RecordingSource!
        let model = try Fixtures.model("tiny") { base in
            recorder = RecordingSource(base)
            return recorder
        }
        let ctx = try model.prefill(ids: [5, 6])
        _ = try model.sample(noise: [Float](repeating: 0.1, count: 256), steps: 1, context: ctx)
        #expect(model.loadedGroups == [0])
        #expect(recorder.replicaLayersRead == [0, 1])
        // Four steps: t = 0, .25, .5, .75, one per group, each read once.
        _ = try model.sample(noise: [Float](repeating: 0.1, count: 256), steps: 4, context: ctx)
        #expect(model.loadedGroups == [0, 1, 2, 3])
        #expect(recorder.prepared == [0, 1, 2, 3])
        #expect(recorder.reads.filter { $0 == "gen.layers.0.modulation.weight" }.count == 1)
    }

    @Test func prefillReadsContextLayersOnceForAllContexts() throws {
        var recorder: RecordingSource!
        let model = try Fixtures.model("cfg") { base in
            recorder = RecordingSource(base)
            return recorder
        }
        let states = try model.prefill([("a", [1, 2, 3]), ("b", [4])])
        #expect(states.map(\.length) == [3, 1])
        #expect(recorder.reads.filter { $0 == "model.layers.0.mlp.up_proj.weight" }.count == 1)
        #expect(recorder.replicaLayersRead.isEmpty)
        #expect(!recorder.reads.contains("model.norm.weight"))
    }

    @Test func samplingHoldsOneGroupAtATime() throws {
        let model = try Fixtures.model("tiny")
        let ctx = try model.prefill(ids: [5, 6])
        try model.reserve(positions: 2 + model.dims.tokens, stepContext: 2)
        let before = model.ledger.held
        _ = try model.sample(noise: [Float](repeating: 0.1, count: 256), steps: 8, context: ctx)
        #expect(model.loadedGroups == [0, 1, 2, 3])
        #expect(model.residentGroup == 3)
        #expect(model.ledger.held == before + model.footprint.groupBytes)
        #expect(model.ledger.peak < before + 2 * model.footprint.groupBytes, "two groups were held at once")
        model.releaseGroup()
        #expect(model.ledger.held == before)
    }

    @Test func velocityEvaluationsComingBackToAGroupReadItAgain() throws {
        let model = try Fixtures.model("tiny")
        let ctx = try model.prefill(ids: [1])
        let z = [Float](repeating: 0.5, count: 4 * 8 * 8)
        for t in [0.1, 0.6, 0.2] { _ = try model.velocity(latent: z, t: t, context: ctx) }
        #expect(model.loadedGroups == [0, 2, 0])
    }

    @Test func prefetchReadsTheNextGroupInTheBackgroundWithTheSameOutputs() throws {
        let noise = [Float](repeating: 0.1, count: 256)
        let plain = try Fixtures.model("tiny")
        let ctxPlain = try plain.prefill(ids: [5, 6])
        let expected = try plain.sample(noise: noise, steps: 8, context: ctxPlain)
        var recorder: RecordingSource!
        let model = try Fixtures.model("tiny") { base in
            recorder = RecordingSource(base)
            return recorder
        }
        model.prefetches = true
        let ctx = try model.prefill(ids: [5, 6])
        try model.reserve(positions: 2 + model.dims.tokens, stepContext: 2)
        let before = model.ledger.held
        let z = try model.sample(noise: noise, steps: 8, context: ctx)
        #expect(z == expected)
        #expect(model.loadedGroups == [0, 1, 2, 3])
        #expect(recorder.prepared == [0, 1, 2, 3])
        #expect(model.prefetchReadSeconds > 0)
        #expect(model.ledger.held == before + model.footprint.groupBytes)
        #expect(model.ledger.peak >= before + 2 * model.footprint.groupBytes, "the next group was read while one was held")
    }

    @Test func theNextGroupIsTheFirstDifferentOneWithinTheLead() throws {
        let model = try Fixtures.model("tiny")   // boundaries 0, .25, .5, .75, 1
        #expect(model.nextGroup(after: 0, steps: 8, within: 2) == 1)
        #expect(model.nextGroup(after: 0, steps: 8, within: 1) == nil)
        #expect(model.nextGroup(after: 7, steps: 8, within: 2) == nil)
        #expect(model.nextGroup(after: 0, steps: 40, within: 2) == nil)
        #expect(model.nextGroup(after: 8, steps: 40, within: 2) == 1)
    }

    @Test func aReleasedGroupsBuffersAreRefilledUnlessAConditioningKeepsThem() throws {
        let model = try Fixtures.model("tiny")
        let ctx = try model.prefill(ids: [1, 2])
        let z = [Float](repeating: 0.5, count: 4 * 8 * 8)
        let expected = try [0.1, 0.6].map { try Fixtures.model("tiny").velocity(latent: z, t: $0, context: try model.prefill(ids: [1, 2])) }
        _ = try model.velocity(latent: z, t: 0.1, context: ctx)
        weak var first = try model.groupWeights(0).first   // weak: no reference of the test's own
        #expect(try model.velocity(latent: z, t: 0.6, context: ctx) == expected[1])
        let now = try model.groupWeights(2).first
        #expect(first != nil && now === first, "group 0's buffers were refilled with group 2")
        // A conditioning kept by the caller keeps its group's weights as they are.
        let kept = try model.conditioning(at: 0.6)
        _ = try model.velocity(latent: z, t: 0.1, context: ctx)
        #expect(try model.groupWeights(0).first !== kept.layers.first)
        var out = [Float](repeating: 0, count: z.count)
        try z.withUnsafeBufferPointer { zp in
            try out.withUnsafeMutableBufferPointer { try model.velocity(zp.baseAddress!, kept, ctx, $0.baseAddress!) }
        }
        #expect(out == expected[1])
    }
}
