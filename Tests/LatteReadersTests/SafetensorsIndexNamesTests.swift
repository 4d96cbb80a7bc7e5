import Testing
import LatteCore
@testable import LatteReaders

private func indexError(_ text: String) -> String? {
    let bytes = Array(text.utf8)
    do {
        _ = try bytes.withUnsafeBytes { try ShardedIndex.parse(bytes: $0, path: "m.index.json") }
        return nil
    } catch {
        return "\(error)"
    }
}

/// Names in a sharded index (`model.safetensors.index.json`) obey the rules of the shards' own
/// headers: no NUL, no lone surrogate, and escaped when shown.
@Suite struct SafetensorsIndexNamesTests {
    @Test func aNULInATensorNameIsRefused() {
        // json-c cut this name to "a", which the shard may well hold.
        #expect(indexError(#"{"weight_map": {"a\u0000x": "model.safetensors"}}"#)
            == #"m.index.json: tensor 'a\0x' in 'weight_map': the name contains a NUL character"#)
        #expect(indexError(#"{"weight_map": {"b": "m.safetensors", "a\u0000": "m.safetensors"}}"#)
            == #"m.index.json: tensor 'a\0' in 'weight_map': the name contains a NUL character"#)
    }

    @Test func aNULInAShardNameIsRefused() {
        // The path would be cut at the NUL when opened: "model.safetensors\0.evil" opens "model.safetensors".
        #expect(indexError(#"{"weight_map": {"a": "model.safetensors\u0000.evil"}}"#)
            == #"m.index.json: tensor 'a': shard 'model.safetensors\0.evil' is not a file inside the index's folder"#)
    }

    @Test func loneSurrogatesAreNotJSON() throws {
        let e = try #require(indexError(#"{"weight_map": {"\ud800": "m.safetensors"}}"#))
        #expect(e.contains("unpaired surrogate \\uD800"))
    }

    @Test func shardNamesAreEscapedInMessages() {
        #expect(ShardedIndexError.missingShard("x\u{1B}[2J.safetensors").description == #"shard 'x\x1b[2J.safetensors' named by the index does not exist"#)
    }
}
