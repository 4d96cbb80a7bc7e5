import Testing
import LatteCore
@testable import LatteReaders

@Suite struct ZipArchiveTests {
    func parse(_ bytes: [UInt8], baseOffset: Int = 0) throws(ZipArchiveError) -> ZipArchive {
        let result: Result<ZipArchive, ZipArchiveError> = bytes.withUnsafeBytes { b in
            do throws(ZipArchiveError) { return .success(try ZipArchive(bytes: b, baseOffset: baseOffset)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func sample(zip64: Bool) -> [UInt8] {
        var z = ZipBuilder()
        z.zip64 = zip64
        z.add("top/data.pkl", [1, 2, 3])
        // torch pads the local extra field so that storages start 64-byte aligned.
        z.add("top/data/0", Array(0 ..< 64), localExtra: [0x46, 0x42, 0x05, 0x00, 0, 0, 0, 0, 0])
        z.add("top/byteorder", "little")
        return z.bytes()
    }

    @Test(arguments: [false, true]) func locatesEveryRecordsData(zip64: Bool) throws {
        let bytes = sample(zip64: zip64)
        let zip = try parse(bytes)
        #expect(zip.topFolder == "top")
        #expect(zip.records.map(\.relativeName) == ["data.pkl", "data/0", "byteorder"])
        let r = try #require(zip.record("data/0"))
        #expect(r.size == 64)
        // The data offset accounts for the local header's own name and extra lengths.
        #expect(Array(bytes[r.dataOffset ..< r.dataOffset + r.size]) == Array(0 ..< 64))
        let order = try #require(zip.record("byteorder"))
        let text = try bytes.withUnsafeBytes { b in Array(try zip.data(of: order, in: b)) }
        #expect(text == Array("little".utf8))
    }

    @Test func nestedArchiveOffsetsAreAbsolute() throws {
        let inner = sample(zip64: false)
        let outer = [UInt8](repeating: 0xAA, count: 100) + inner
        let zip = try outer.withUnsafeBytes { b in
            try ZipArchive(bytes: UnsafeRawBufferPointer(rebasing: b[100...]), baseOffset: 100)
        }
        let r = try #require(zip.record("data.pkl"))
        #expect(Array(outer[r.dataOffset ..< r.dataOffset + 3]) == [1, 2, 3])
    }

    @Test func acceptsACommentAfterTheEndRecord() throws {
        var z = ZipBuilder()
        z.add("a/x", [9])
        z.comment = Array("a comment that mentions PK\u{05}\u{06} inside".utf8)
        #expect(try parse(z.bytes()).records.count == 1)
    }

    @Test func truncatedFileHasNoCentralDirectory() {
        let bytes = sample(zip64: true)
        for cut in [bytes.count / 2, 10, 0] {
            #expect(throws: ZipArchiveError.centralDirectoryNotFound) { try parse(Array(bytes[0 ..< cut])) }
        }
        #expect(ZipArchiveError.centralDirectoryNotFound.description == "central directory not found: the file is truncated")
    }

    @Test func compressedRecordIsRefusedByName() throws {
        var z = ZipBuilder()
        z.add("a/data.pkl", [0x78, 0x9C, 1, 2], method: 8)
        let bytes = z.bytes()
        let zip = try parse(bytes)
        _ = bytes.withUnsafeBytes { b in
            #expect(throws: ZipArchiveError.compressedRecord(record: "a/data.pkl", method: 8)) {
                try zip.data(of: zip.records[0], in: b)
            }
        }
    }

    @Test func recordsMustShareOneTopFolder() {
        var z = ZipBuilder()
        z.add("archive/data.pkl", [1])
        z.add("other/data/0", [2])
        #expect(throws: ZipArchiveError.notOneTopFolder(first: "archive", other: "other")) { try parse(z.bytes()) }
        var y = ZipBuilder()
        y.add("data.pkl", [1])
        #expect(throws: ZipArchiveError.recordOutsideFolder("data.pkl")) { try parse(y.bytes()) }
    }

    @Test func duplicateNamesAreRefused() {
        var z = ZipBuilder()
        z.add("a/x", [1])
        z.add("a/x", [2])
        #expect(throws: ZipArchiveError.duplicateRecord("a/x")) { try parse(z.bytes()) }
    }

    @Test func everyOffsetIsCheckedAgainstTheFile() throws {
        var z = ZipBuilder()
        z.add("a/x", [UInt8](repeating: 7, count: 32))
        let good = z.bytes()
        let cdStart = 30 + 3 + 32

        // The record's size grown past the end of the file (central and local headers agree).
        var big = good
        for at in [18, 22, cdStart + 20, cdStart + 24] { big[at] = 0xFF; big[at + 1] = 0xFF }
        #expect(throws: ZipArchiveError.self) { try parse(big) }
        do { _ = try parse(big) } catch {
            guard case .recordOutsideFile(record: "a/x", _, _, _) = error else { Issue.record("\(error)"); return }
        }

        // The local header offset pointing past the end.
        var lho = good
        lho[cdStart + 42] = 0xF0; lho[cdStart + 43] = 0xFF; lho[cdStart + 44] = 0xFF
        #expect(throws: ZipArchiveError.self) { try parse(lho) }

        // A local header whose signature is wrong.
        var sig = good
        sig[0] = 0
        #expect(throws: ZipArchiveError.badLocalHeader(record: "a/x", reason: "bad signature at offset 0")) { try parse(sig) }

        // The central directory offset past the end of the file.
        var cd = good
        let eocd = good.count - 22
        cd[eocd + 16] = 0xFF; cd[eocd + 17] = 0xFF; cd[eocd + 18] = 0xFF
        #expect(throws: ZipArchiveError.self) { try parse(cd) }

        // An entry count far above what the directory holds: no allocation by it, a clear error.
        var count = good
        count[eocd + 8] = 0xFE; count[eocd + 9] = 0xFF; count[eocd + 10] = 0xFE; count[eocd + 11] = 0xFF
        #expect(throws: ZipArchiveError.entryCountMismatch(declared: 0xFFFE, found: 1)) { try parse(count) }
    }

    @Test func zip64LocatorMustPointAtARecord() {
        var bytes = sample(zip64: true)
        let locator = bytes.count - 22 - 20
        bytes[locator + 8] = 0xFF; bytes[locator + 9] = 0xFF; bytes[locator + 10] = 0xFF
        #expect(throws: ZipArchiveError.self) { try parse(bytes) }
    }

    @Test func everyPrefixAndCorruptionFailsCleanly() {
        // No input-derived trap: every prefix and every single-byte corruption of the directory
        // either parses or throws.
        let bytes = sample(zip64: true)
        for n in stride(from: 0, through: bytes.count, by: 7) { _ = try? parse(Array(bytes[0 ..< n])) }
        for i in stride(from: 0, to: bytes.count, by: 3) {
            var b = bytes
            b[i] ^= 0xFF
            _ = try? parse(b)
        }
    }
}
