import Foundation
import Testing
import LatteTestSupport
import LatteCore
@testable import LatteReaders

@Suite struct ShardedIndexTests {
    /// Writes `shards` (file name → tensor names, each a U8 [2] tensor) and an index over `weightMap`.
    func makeSharded(_ shards: [String: [String]], weightMap: [String: String]? = nil, indexText: String? = nil) throws -> (URL, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("latte-sharded-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var map: [String: String] = [:]
        for (file, names) in shards {
            for n in names { map[n] = file }
            writeSafetensors(dir.appendingPathComponent(file).path, names.map { SyntheticTensor(name: $0, dtype: .u8, shape: [2], filledWith: 5) })
        }
        let wm = (weightMap ?? map).sorted { $0.key < $1.key }.map { #""\#($0.key)": "\#($0.value)""# }.joined(separator: ", ")
        let text = indexText ?? #"{"metadata": {"total_size": 8}, "weight_map": {\#(wm)}}"#
        let index = dir.appendingPathComponent("model.safetensors.index.json").path
        try text.write(toFile: index, atomically: true, encoding: .utf8)
        return (dir, index)
    }

    @Test func opensByIndexOrFolder() throws {
        let (dir, index) = try makeSharded(["a.safetensors": ["x", "y"], "b.safetensors": ["z"]])
        defer { try? FileManager.default.removeItem(at: dir) }
        for path in [index, dir.path] {
            let c = try CheckpointReader.open(path: path)
            #expect(c.format == .safetensorsSharded)
            #expect(c.tensors.map(\.name) == ["x", "y", "z"])
            #expect(c.files.count == 2)
            #expect(c.metadata["total_size"] == "8")
            let z = c.tensor(named: "z")!
            #expect(try c.bytes(of: z).withUnsafeBytes { Array($0) } == [5, 5])
        }
    }

    @Test func refusesAMissingShard() throws {
        let (dir, index) = try makeSharded(["a.safetensors": ["x"]], weightMap: ["x": "a.safetensors", "y": "gone.safetensors"])
        defer { try? FileManager.default.removeItem(at: dir) }
        #expect(errorText { _ = try CheckpointReader.open(path: index) }.contains("shard 'gone.safetensors' named by the index does not exist"))
    }

    @Test func refusesATensorAbsentFromItsShard() throws {
        let (dir, index) = try makeSharded(["a.safetensors": ["x"]], weightMap: ["x": "a.safetensors", "w": "a.safetensors"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = errorText { _ = try CheckpointReader.open(path: index) }
        #expect(m.contains("tensor 'w'") && m.contains("absent from shard 'a.safetensors'"), "\(m)")
    }

    @Test func refusesATensorInTwoShards() throws {
        let (dir, index) = try makeSharded(["a.safetensors": ["x"], "b.safetensors": ["x"]], weightMap: ["x": "a.safetensors", "q": "b.safetensors"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = errorText { _ = try CheckpointReader.open(path: index) }
        #expect(m.contains("tensor 'x'") && m.contains("present in two shards"), "\(m)")
    }

    @Test func refusesATensorTheIndexDoesNotList() throws {
        let (dir, index) = try makeSharded(["a.safetensors": ["x", "extra"]], weightMap: ["x": "a.safetensors"])
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = errorText { _ = try CheckpointReader.open(path: index) }
        #expect(m.contains("tensor 'extra'") && m.contains("not listed in the index"), "\(m)")
    }

    @Test func refusesBadIndexes() throws {
        for (text, fragment) in [
            ("{\"weight_map\": ", "not valid JSON"),
            ("{\"metadata\": {}}", "no 'weight_map'"),
            ("{\"weight_map\": {\"x\": 3}}", "shard name must be a string"),
            ("{\"weight_map\": {\"x\": \"../a.safetensors\"}}", "not a file inside the index's folder"),
            ("{\"weight_map\": {\"x\": \"/etc/passwd\"}}", "not a file inside the index's folder"),
        ] {
            let (dir, index) = try makeSharded(["a.safetensors": ["x"]], indexText: text)
            defer { try? FileManager.default.removeItem(at: dir) }
            let m = errorText { _ = try CheckpointReader.open(path: index) }
            #expect(m.hasPrefix(index) && m.contains(fragment), "\(m)")
        }
    }
}
