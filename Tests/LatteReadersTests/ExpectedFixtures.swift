import Testing
import LatteCore
@testable import LatteReaders

/// `fixtures/readers/expected.json`: what torch itself reads from each fixture.
struct ExpectedFixture: CustomStringConvertible, Sendable {
    struct Tensor: Sendable {
        var name: String
        var dtype: String
        var shape: [Int]
        /// nil for a tensor without data (meta device).
        var sha256: String?
    }
    var path: String
    var format: String
    var tensors: [Tensor]
    var skipped: [String]
    var description: String { path }

    /// Every fixture of `expected.json` whose format starts with `prefix`.
    static func all(formatPrefix prefix: String) -> [ExpectedFixture] {
        guard let root = try? TorchFixtures.json(TorchFixtures.readers + "expected.json"), let members = root.objectValue else { return [] }
        return members.compactMap { path, v in
            guard let format = v["format"]?.stringValue, format.hasPrefix(prefix) else { return nil }
            let tensors = (v["tensors"]?.arrayValue ?? []).map { t in
                Tensor(name: t["name"]?.stringValue ?? "?", dtype: t["dtype"]?.stringValue ?? "?",
                       shape: (t["shape"]?.arrayValue ?? []).compactMap(\.intValue), sha256: t["sha256"]?.stringValue)
            }
            return ExpectedFixture(path: path, format: format, tensors: tensors,
                                   skipped: (v["skipped"]?.arrayValue ?? []).compactMap(\.stringValue))
        }
    }

    /// Opens the fixture the way `latte inspect` does and compares everything torch reported:
    /// format, tensor names in order, dtypes, shapes, SHA-256 of the contiguous bytes, skipped leaves.
    func check() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + path)
        #expect(c.format.rawValue == format, "\(path)")
        #expect(c.tensors.map(\.name) == tensors.map(\.name), "\(path)")
        #expect(c.skippedLeaves == skipped, "\(path)")
        for want in tensors {
            guard let got = c.tensor(named: want.name) else { Issue.record("\(path): no tensor '\(want.name)'"); continue }
            #expect(got.dtype.name == want.dtype, "\(path): \(want.name)")
            #expect(got.shape == want.shape, "\(path): \(want.name)")
            if let sha = want.sha256 {
                let digest = try c.bytes(of: got).withUnsafeBytes { b in
                    var h = SHA256()
                    h.update(b)
                    return SHA256.hex(h.finalize())
                }
                #expect(digest == sha, "\(path): \(want.name) bytes differ from torch's")
            } else {
                #expect(got.isMeta, "\(path): \(want.name) should have no data")
                #expect(throws: TensorReadError.noData(tensor: want.name)) { try c.bytes(of: got) }
            }
        }
    }
}
