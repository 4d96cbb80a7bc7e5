import Testing
import LatteCore
import LatteReaders

/// The committed fixtures (fixtures/make_fixtures.py, written by torch) against what torch
/// itself read from them, and the malformed corpus against the reader's specific errors.
@Suite struct SafetensorsFixtureTests {
    @Test(arguments: ExpectedFixture.all(formatPrefix: "safetensors"))
    func agreesWithTorch(_ fixture: ExpectedFixture) throws {
        try fixture.check()
        // Safetensors tensors are dense and little-endian: their bytes come straight from the map.
        let c = try CheckpointReader.open(path: TorchFixtures.readers + fixture.path)
        for t in c.tensors { #expect(try c.bytes(of: t).isZeroCopy, "\(fixture.path): \(t.name)") }
    }

    /// The safetensors and sharded cases of cases.json.
    static let malformedCases: [String] = {
        guard let root = try? TorchFixtures.json(TorchFixtures.malformed + "cases.json"), let members = root.objectValue else { return [] }
        return members.compactMap { name, v in v["reader"]?.stringValue?.hasPrefix("safetensors") == true ? name : nil }
    }()

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

    @Test func malformedCorpusIsPresent() {
        #expect(Self.malformedCases.count >= 25, "fixtures/malformed missing? \(Self.malformedCases.count) cases")
    }

    @Test(arguments: malformedCases + ["lfs_pointer/model.safetensors"])
    func refusesMalformedWithItsOwnMessage(_ name: String) {
        let path = TorchFixtures.malformed + name
        guard let (message, _) = openingRefusal(path) else { Issue.record("\(name) was accepted"); return }
        #expect(message.hasPrefix(path), "\(message)")
        guard let fragment = Self.messages[name] else { Issue.record("no expected message for \(name)"); return }
        #expect(message.contains(fragment), "\(name): \(message)")
    }
}
