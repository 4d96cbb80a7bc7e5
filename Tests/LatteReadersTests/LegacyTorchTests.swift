import Testing
import LatteCore
@testable import LatteReaders

/// Legacy `torch.save` files (a pickle stream per part, before the zip format): the committed
/// fixtures as torch read them, views over shared storages, and streams built by hand.
@Suite struct LegacyTorchTests {
    @Test(arguments: ExpectedFixture.all(formatPrefix: "pytorch-legacy"))
    func agreesWithTorch(_ fixture: ExpectedFixture) throws { try fixture.check() }

    @Test func fixturesArePresent() {
        #expect(ExpectedFixture.all(formatPrefix: "pytorch-legacy").count >= 2)
    }

    @Test func viewsShareTheRootStorage() throws {
        let c = try CheckpointReader.open(path: TorchFixtures.readers + "legacy.pt")
        let base = try #require(c.tensor(named: "base")), rows = try #require(c.tensor(named: "view_rows"))
        #expect(base.storageKey == rows.storageKey)
        #expect(rows.elementOffset == 4)
        #expect(c.tensor(named: "view_t")?.strides == [1, 4])
        #expect(c.skippedLeaves == ["epoch"])
    }

    /// A legacy stream built by hand: magic, 1001, sys_info, object, keys, storages.
    func legacy(object: [UInt8], keys: [String], storages: [[UInt8]], littleEndian: Bool = true, version: Int = 1001) -> [UInt8] {
        var out = P.proto() + [0x8A, 0x0A] + LegacyTorchFormat.magic + [0x2E]
        out += P.proto() + P.int(version) + [0x2E]
        out += P.proto() + [0x7D, 0x28] + P.bu("protocol_version") + P.int(1001) + P.bu("little_endian") + [littleEndian ? 0x88 : 0x89] + [0x75, 0x2E]
        out += object
        out += P.proto() + [0x5D, 0x28] + keys.flatMap { P.bu($0) } + [0x65, 0x2E]
        for s in storages { out += s }
        return out
    }

    func storage(_ count: Int, _ bytes: [UInt8]) -> [UInt8] { (0 ..< 8).map { UInt8((count >> (8 * $0)) & 0xFF) } + bytes }

    /// A legacy persistent id with view metadata: ('storage', FloatStorage, key, 'cpu', numel, view).
    func tensor(key: String, numel: Int, view: (String, Int, Int)?, size: [Int]) -> [UInt8] {
        var p = P.global("torch._utils", "_rebuild_tensor_v2")
        let v: [UInt8] = view.map { P.tuple([P.bu($0.0), P.int($0.1), P.int($0.2)]) } ?? [0x4E]
        let pid = P.tuple([P.bu("storage"), P.global("torch", "FloatStorage"), P.bu(key), P.bu("cpu"), P.int(numel), v])
        p += [0x28] + pid + [0x51] + P.int(0) + P.tuple(size.map { P.int($0) }) + P.tuple([P.int(1)])
        p += [0x89] + P.global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        return p
    }

    @Test func storageViewMetadataSelectsAWindow() throws {
        let obj = P.dict([("v", tensor(key: "1", numel: 4, view: ("9", 1, 2), size: [2]))])
        try withTorch(legacy(object: obj, keys: ["1"], storages: [storage(4, f32Bytes([1, 2, 3, 4]))])) { c, contents in
            #expect(contents.format == .pytorchLegacy)
            let gotv = try contiguousBytes(c, "v")
            #expect(gotv == f32Bytes([2, 3]))
        }
        let outside = P.dict([("v", tensor(key: "1", numel: 4, view: ("9", 3, 2), size: [2]))])
        #expect(caught { _ = try readTorch(legacy(object: outside, keys: ["1"], storages: [storage(4, f32Bytes([1, 2, 3, 4]))])) }
            as? TorchReaderError == .legacyViewOutsideStorage(key: "1", view: "9"))
    }

    @Test func bigEndianSysInfoSwaps() throws {
        let obj = P.dict([("w", tensor(key: "1", numel: 1, view: nil, size: [1]))])
        try withTorch(legacy(object: obj, keys: ["1"], storages: [storage(1, [0x3F, 0x80, 0, 0])], littleEndian: false)) { c, _ in
            let gotw = try contiguousBytes(c, "w")
            #expect(gotw == f32Bytes([1]))
        }
    }

    @Test func streamRulesEachHaveTheirError() {
        let obj = P.dict([("w", tensor(key: "1", numel: 2, view: nil, size: [2]))])
        let good = storage(2, f32Bytes([1, 2]))
        #expect(throws: Never.self) { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [good])) }
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [good], version: 1000)) } as? TorchReaderError
            == .legacyBadProtocolVersion("1000"))
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1", "2"], storages: [good])) } as? TorchReaderError
            == .legacyUnknownStorageKey("2"))
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [storage(3, f32Bytes([1, 2, 3]))])) } as? TorchReaderError
            == .legacyStorageCountMismatch(key: "1", declared: 2, found: 3))
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [storage(1 << 62, f32Bytes([1, 2]))])) } as? TorchReaderError
            == .legacyStorageOverrun(key: "1", count: 1 << 62, elementSize: 4, remaining: 8))
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [[1, 2, 3]])) } as? TorchReaderError
            == .legacyStorageOverrun(key: "1", count: 2, elementSize: 4, remaining: 3))
        // A storage count of -1 cannot be a length.
        #expect(caught { _ = try readTorch(legacy(object: obj, keys: ["1"], storages: [storage(-1, [])])) } is TorchReaderError)
        // Every prefix of a good file is refused cleanly.
        let file = legacy(object: obj, keys: ["1"], storages: [good])
        for n in 0 ..< file.count { #expect(caught { _ = try readTorch(Array(file[0 ..< n])) } != nil, "prefix \(n)") }
    }
}
