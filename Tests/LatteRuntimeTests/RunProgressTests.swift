import Testing
import LatteCore
@testable import LatteRuntime

/// What a run tells its progress handler: one count per sampling step and velocity evaluation.
@Suite struct RunProgressTests {
    @Test func stepsAndEvaluationsAreCountedToTheTotal() throws {
        let folder = "\(Fixtures.models)/tiny"
        let model = try Fixtures.model("tiny")
        let inputs = try RunInputs.load(path: folder + "/inputs.safetensors", config: model.config)
        let evaluations = 5 + (inputs.timesteps?.count ?? 0)
        #expect(inputs.noise != nil && evaluations > 5, "the fixture samples and evaluates velocities")
        // `ProgressHandler`s are called on the thread running the job: here, this one.
        final class Calls: @unchecked Sendable { var list: [(Int, Int)] = [] }
        let calls = Calls()
        _ = try LatteRun.execute(model: model, inputs: inputs, steps: 5, progress: { calls.list.append(($0, $1)) })
        #expect(calls.list.map(\.0) == Array(0 ... evaluations))
        #expect(calls.list.allSatisfy { $0.1 == evaluations })
    }
}
