/// The four bytes that open each zip record (PKWARE's APPNOTE, section 4.3), read as a
/// little-endian `UInt32`: "PK" then two record numbers.
enum ZipSignature {
    /// "PK\3\4": a local file header, the start of every non-empty archive.
    static let localHeader: UInt32 = 0x0403_4B50
    /// "PK\1\2": a central directory entry.
    static let centralEntry: UInt32 = 0x0201_4B50
    /// "PK\5\6": the end of central directory record, the start of an empty archive.
    static let endOfCentralDirectory: UInt32 = 0x0605_4B50
    /// "PK\6\6": the zip64 end of central directory record.
    static let zip64EndOfCentralDirectory: UInt32 = 0x0606_4B50
    /// "PK\6\7": the zip64 locator, right before the end record.
    static let zip64Locator: UInt32 = 0x0706_4B50

    /// The signature at `offset` in `bytes`; the caller checks that four bytes are there.
    static func at(_ offset: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
    }

    /// True when `bytes` starts as a zip archive does: with a local header, or with the end
    /// record of an archive without records.
    static func startsArchive(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count >= 4 else { return false }
        let s = at(0, in: bytes)
        return s == localHeader || s == endOfCentralDirectory
    }
}
