import Testing
@testable import LatteFormat

/// The header and trailer bytes are FORMAT.md's tables, and decoding gives back what was encoded.
@Suite struct LatteLayoutTests {
    func decodeError(_ bytes: [UInt8]) -> LatteFileError? {
        bytes.withUnsafeBytes { b in
            do throws(LatteFileError) {
                _ = try LatteLayout.Header.decode(b)
                _ = try LatteLayout.Trailer.decode(b)
                return nil
            } catch { return error }
        }
    }

    /// A file of `header`, `manifest` bytes of filler, and a trailer pointing at them.
    func file(header: [UInt8] = LatteLayout.Header().encode(), manifest: Int = 5) -> [UInt8] {
        let trailer = LatteLayout.Trailer(manifestOffset: UInt64(header.count), manifestLength: UInt64(manifest), manifestChecksum: 7)
        return header + [UInt8](repeating: 0x20, count: manifest) + trailer.encode()
    }

    @Test func headerBytesAreTheDocumentedOnes() {
        let h = LatteLayout.Header(major: 1, minor: 0x0203).encode()
        #expect(h.count == LatteLayout.headerSize)
        #expect(Array(h[0 ..< 8]) == [0x89, 0x4C, 0x41, 0x54, 0x54, 0x45, 0x0D, 0x0A])
        #expect(Array(h[8 ..< 12]) == [1, 0, 0x03, 0x02])
        #expect(h[12...].allSatisfy { $0 == 0 })
    }

    @Test func trailerBytesAreTheDocumentedOnes() {
        let t = LatteLayout.Trailer(manifestOffset: 0x0102, manifestLength: 0x0304, manifestChecksum: 0x0506_0708_090A_0B0C).encode()
        #expect(t.count == LatteLayout.trailerSize)
        #expect(Array(t[0 ..< 8]) == [0x02, 0x01, 0, 0, 0, 0, 0, 0])
        #expect(Array(t[8 ..< 16]) == [0x04, 0x03, 0, 0, 0, 0, 0, 0])
        #expect(Array(t[16 ..< 24]) == [0x0C, 0x0B, 0x0A, 0x09, 0x08, 0x07, 0x06, 0x05])
        #expect(Array(t[24...]) == Array("LATTEEND".utf8))
    }

    @Test func decodingGivesBackTheFields() throws {
        let bytes = file(header: LatteLayout.Header(major: 1, minor: 9).encode(), manifest: 11)
        try bytes.withUnsafeBytes { b in
            #expect(try LatteLayout.Header.decode(b) == LatteLayout.Header(major: 1, minor: 9))
            let t = try LatteLayout.Trailer.decode(b)
            #expect(t == LatteLayout.Trailer(manifestOffset: 64, manifestLength: 11, manifestChecksum: 7))
            #expect(t.manifestRange == 64 ..< 75)
        }
    }

    @Test func damagedRecordsAreRefused() {
        var wrongMagic = file()
        wrongMagic[1] = 0x4D
        #expect(decodeError(wrongMagic) == .notLatte)
        #expect(decodeError(Array(file().prefix(40))) == .tooSmall(size: 40))
        #expect(decodeError(file(header: LatteLayout.Header(major: 2, minor: 1).encode())) == .unsupportedVersion(major: 2, minor: 1))
        var noEnd = file()
        noEnd[noEnd.count - 1] = 0
        #expect(decodeError(noEnd) == .badTrailer("no end marker"))
        var misplaced = file()
        misplaced[misplaced.count - 32] = 60
        #expect(decodeError(misplaced) == .badTrailer("manifest at 60 with 5 bytes does not end at the trailer (byte 69)"))
    }
}
