import LatteCore

/// The four bytes that open each zip record (PKWARE's APPNOTE, section 4.3), read as a
/// little-endian `UInt32`: "PK" then two record numbers. The two an archive can start with
/// are `FileSignature`'s, which format detection compares.
enum ZipSignature {
    /// "PK\3\4": a local file header, the start of every non-empty archive.
    static let localHeader = word(FileSignature.zipLocalFile)
    /// "PK\1\2": a central directory entry.
    static let centralEntry: UInt32 = 0x0201_4B50
    /// "PK\5\6": the end of central directory record, the start of an empty archive.
    static let endOfCentralDirectory = word(FileSignature.zipEndOfCentralDirectory)
    /// "PK\6\6": the zip64 end of central directory record.
    static let zip64EndOfCentralDirectory: UInt32 = 0x0606_4B50
    /// "PK\6\7": the zip64 locator, right before the end record.
    static let zip64Locator: UInt32 = 0x0706_4B50

    /// The signature at `offset` in `bytes`; the caller checks that four bytes are there.
    static func at(_ offset: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
    }

    private static func word(_ b: [UInt8]) -> UInt32 {
        UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24
    }
}
