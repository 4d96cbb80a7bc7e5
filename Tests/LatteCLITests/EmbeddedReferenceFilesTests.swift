import Foundation
import Testing
import LatteCore

/// `verify` runs a reference embedded in a `.latte` file from memory: the temporary folder
/// it is given (TMPDIR, empty) stays empty. Run as a child process, so that the TMPDIR of
/// the tests running beside it is left alone.
@Suite struct EmbeddedReferenceFilesTests {
    @Test func verifyingAnEmbeddedReferenceCreatesNoTemporaryFile() throws {
        let dir = try CLI.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tmp = dir.appendingPathComponent("tmp")
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
        let environment = ["TMPDIR": tmp.path]
        let out = dir.appendingPathComponent("k2.latte").path
        let convert = try CLI.run(["convert", CLI.fixture("models/k2"), "-o", out, "--reference", CLI.fixture("models/k2"), "--no-progress"],
                                  environment: environment)
        #expect(convert.status == 0, "\(convert.stderr)")
        let verify = try CLI.run(["verify", out, "--json"], environment: environment)
        #expect(verify.status == 0, "\(verify.stderr)")
        let outputs = try JSON.parse(verify.stdout)["reference"]?["outputs"]?.arrayValue ?? []
        #expect(outputs.count == 3 && outputs.allSatisfy { $0["passed"] == .bool(true) }, "\(verify.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path).isEmpty)
    }
}
