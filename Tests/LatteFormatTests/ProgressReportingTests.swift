import Testing
import LatteTestSupport
import LatteCore
import LatteReaders
@testable import LatteFormat

/// What the format's long jobs (convert, export, verify) tell their progress handler.
@Suite struct ProgressReportingTests {
    /// A converted synthetic checkpoint: several chunks per tensor, one empty tensor.
    func converted(_ dir: TempDir) throws -> (latte: LatteFile, source: Checkpoint, bytes: Int) {
        let (source, latte) = try syntheticLatte(dir)
        return (latte, source, source.tensors.reduce(0) { $0 + $1.byteCount })
    }

    @Test func exportCountsEveryByteUpToTheTotal() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (latte, _, bytes) = try converted(dir)
        let calls = ProgressRecorder()
        try SafetensorsExport.export(latte, to: dir.file("out.safetensors"), progress: calls.handler)
        calls.expectCompleteCount(of: bytes, atMost: chunkCount(latte) + latte.manifest.tensors.count)
    }

    @Test func verifyCountsEveryByteUpToTheTotal() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (latte, source, bytes) = try converted(dir)
        let calls = ProgressRecorder()
        let report = LatteVerifier.verify(latte, source: source, progress: calls.handler)
        #expect(report.ok)
        // Once per chunk and once per tensor.
        calls.expectCompleteCount(of: bytes, atMost: chunkCount(latte) + latte.manifest.tensors.count)
    }

    /// A tensor that fails still counts: the count ends at the total.
    @Test func verifyReachesTheTotalPastFailures() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (latte, _, bytes) = try converted(dir)
        var other = syntheticCheckpoint(seed: 99)
        other.removeLast()
        writeSafetensors(dir.file("other.safetensors"), other)
        let calls = ProgressRecorder()
        let report = LatteVerifier.verify(latte, source: try CheckpointReader.open(path: dir.file("other.safetensors")), progress: calls.handler)
        #expect(!report.ok)
        calls.expectCompleteCount(of: bytes, atMost: chunkCount(latte) + latte.manifest.tensors.count)
    }

    @Test func convertCountsEveryByteUpToTheTotal() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        let source = try CheckpointReader.open(path: dir.file("model.safetensors"))
        let calls = ProgressRecorder()
        var options = testOptions()
        options.progress = calls.handler
        try LatteWriter.write(source, plan: nil, to: dir.file("m.latte"), options: options)
        calls.expectCompleteCount(of: source.tensors.reduce(0) { $0 + $1.byteCount }, atMost: chunkCount(try LatteFile(path: dir.file("m.latte"))))
    }

    /// The chunks a stream of every tensor hands over: an empty tensor counts as one.
    func chunkCount(_ latte: LatteFile) -> Int { latte.manifest.tensors.reduce(0) { $0 + max(1, $1.chunks.count) } }
}

/// Records a job's progress calls.
///
/// `@unchecked Sendable`: handlers are called on the thread that started the job (the
/// contract of `ProgressHandler`), here the test's.
final class ProgressRecorder: @unchecked Sendable {
    var calls: [(done: Int, total: Int)] = []

    var handler: ProgressHandler { { [self] done, total in calls.append((done, total)) } }

    /// The calls counted up to `total` without going back or past it, in at most `limit` calls.
    func expectCompleteCount(of total: Int, atMost limit: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!calls.isEmpty, sourceLocation: sourceLocation)
        #expect(calls.allSatisfy { $0.total == total && 0 <= $0.done && $0.done <= total }, sourceLocation: sourceLocation)
        #expect(zip(calls, calls.dropFirst()).allSatisfy { $0.done <= $1.done }, "monotone", sourceLocation: sourceLocation)
        #expect(calls.last?.done == total, sourceLocation: sourceLocation)
        #expect(calls.count <= limit, "\(calls.count) calls", sourceLocation: sourceLocation)
    }
}
