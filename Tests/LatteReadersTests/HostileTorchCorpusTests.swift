import Foundation
import Testing
import LatteCore
@testable import LatteReaders

/// `fixtures/hostile/torch/` through the reader, in process: every case the CLI must refuse
/// is refused with its one-line error naming the file, every case it must accept is read
/// with all its bytes. (The lead's corpus runner runs the same cases as processes, under
/// the memory and time budget.)
@Suite struct HostileTorchCorpusTests {
    struct Case: Decodable, Sendable, CustomTestStringConvertible {
        var name: String
        var file: String
        var exit: Int
        var stderr: String?
        var testDescription: String { name }
    }

    static let folder = TorchFixtures.root + "hostile/torch/"

    static let cases: [Case] = {
        guard let data = FileManager.default.contents(atPath: folder + "cases.json"),
              let file = try? JSONDecoder().decode([String: [Case]].self, from: data) else { return [] }
        return file["cases"] ?? []
    }()

    @Test func corpusIsPresent() {
        #expect(Self.cases.count >= 20, "fixtures/hostile/torch missing? \(Self.cases.count) cases")
    }

    @Test(arguments: cases)
    func readAsTheCaseSays(_ c: Case) throws {
        let path = Self.folder + c.file
        if c.exit == 0 {
            let checkpoint = try CheckpointReader.open(path: path)
            for t in checkpoint.tensors { _ = try checkpoint.bytes(of: t) }
            return
        }
        do {
            let checkpoint = try CheckpointReader.open(path: path)
            for t in checkpoint.tensors { _ = try checkpoint.bytes(of: t) }
            Issue.record("\(c.name) was accepted")
        } catch {
            let message = String(describing: error)
            #expect(message.hasPrefix(Self.folder), "names the file: \(message)")
            #expect(!message.contains("\n"), "one line: \(message)")
            #expect(message.contains(c.stderr ?? "\u{0}"), "\(c.name): \(message)")
        }
    }
}
