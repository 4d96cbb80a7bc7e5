import Foundation
import Testing
import LatteCore
import LatteReaders

/// The committed fixtures (fixtures/make_fixtures.py, written by torch) against what torch
/// itself read from them, and the malformed corpus against the reader's specific errors.
enum Fixtures {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("fixtures")

    static func json(_ relative: String) throws -> JSONValue {
        try JSON.parse(String(decoding: try Data(contentsOf: root.appendingPathComponent(relative)), as: UTF8.self))
    }

    /// expected.json keys whose format matches `formats`.
    static func expected(formats: Set<String>) -> [String] {
        guard let doc = try? json("readers/expected.json"), let members = doc.objectValue else { return [] }
        return members.filter { formats.contains($0.1["format"]?.stringValue ?? "") }.map(\.0)
    }

    static func malformed(readers: Set<String>) -> [String] {
        guard let doc = try? json("malformed/cases.json"), let members = doc.objectValue else { return [] }
        return members.filter { readers.contains($0.1["reader"]?.stringValue ?? "") }.map(\.0)
    }
}

@Suite struct SafetensorsFixtureTests {
    @Test(arguments: Fixtures.expected(formats: ["safetensors", "safetensors-sharded"]))
    func agreesWithTorch(_ key: String) throws {
        let expected = try Fixtures.json("readers/expected.json")[key]!
        let c = try CheckpointReader.open(path: Fixtures.root.appendingPathComponent("readers/" + key).path)
        #expect(c.format.rawValue == expected["format"]?.stringValue)
        let tensors = expected["tensors"]!.arrayValue!
        #expect(c.tensors.count == tensors.count)
        for (t, e) in zip(c.tensors, tensors) {
            #expect(t.name == e["name"]?.stringValue)
            #expect(t.dtype.name == e["dtype"]?.stringValue, "\(t.name)")
            #expect(t.shape == e["shape"]?.arrayValue?.compactMap(\.intValue), "\(t.name)")
            #expect(try c.bytes(of: t).isZeroCopy, "safetensors tensors come straight from the map")
        }
    }

    /// The specific message each broken file must produce, by its rule.
    static let messages: [String: String] = [
        "st_too_short.safetensors": "shorter than the 8-byte header length",
        "st_header_len_exceeds_file.safetensors": "runs past the end of the",
        "st_header_len_huge.safetensors": "exceeds the limit of 100000000 bytes",
        "st_header_not_utf8.safetensors": "header is not valid UTF-8",
        "st_header_not_json.safetensors": "header is not valid JSON",
        "st_header_array.safetensors": "header must be a JSON object, found an array",
        "st_metadata_non_string.safetensors": "__metadata__ value for 'epoch' must be a string",
        "st_unknown_dtype.safetensors": "unknown dtype 'F12'",
        "st_shape_negative.safetensors": "negative dimension -2",
        "st_shape_float.safetensors": "dimension 2.0 is not an integer",
        "st_shape_overflow.safetensors": "element count overflows",
        "st_offsets_not_zero.safetensors": "data begins at 4, leaving a gap after byte 0",
        "st_gap.safetensors": "leaving a gap",
        "st_overlap.safetensors": "overlapping the previous tensor",
        "st_end_before_begin.safetensors": "is before begin",
        "st_size_mismatch.safetensors": "F32 [3] needs 12 bytes, data_offsets give 8",
        "st_f4_odd.safetensors": "does not fill a whole number of bytes",
        "st_trailing_bytes.safetensors": "4 trailing bytes after the last tensor",
        "st_missing_bytes.safetensors": "file is truncated",
        "st_duplicate_name.safetensors": "tensor 'a' appears twice in the header",
        "st_missing_offsets.safetensors": "missing field 'data_offsets'",
        "sharded_missing_shard/model.safetensors.index.json": "named by the index does not exist",
        "sharded_absent_tensor/model.safetensors.index.json": "tensor 'b': listed in the index but absent from shard",
        "sharded_duplicate_tensor/model.safetensors.index.json": "tensor 'a': present in two shards",
        "sharded_index_not_json/model.safetensors.index.json": "index is not valid JSON",
        "lfs_pointer/model.safetensors": "a Git LFS pointer, not the weights",
    ]

    @Test(arguments: Fixtures.malformed(readers: ["safetensors", "safetensors-sharded"]) + ["lfs_pointer/model.safetensors"])
    func refusesMalformedWithItsOwnMessage(_ name: String) {
        let path = Fixtures.root.appendingPathComponent("malformed/" + name).path
        do {
            _ = try CheckpointReader.open(path: path)
            Issue.record("\(name) was accepted")
        } catch {
            let message = String(describing: error)
            #expect(message.hasPrefix(path), "\(message)")
            guard let fragment = Self.messages[name] else { Issue.record("no expected message for \(name)"); return }
            #expect(message.contains(fragment), "\(name): \(message)")
        }
    }
}
