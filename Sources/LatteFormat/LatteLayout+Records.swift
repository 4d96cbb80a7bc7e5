/// The header and the trailer, encoded by the writer and decoded by the reader through the
/// same types (docs/FORMAT.md, "File layout"). Every field is little-endian.
extension LatteLayout {
    /// The first `headerSize` bytes: the magic number, the format version, reserved flags
    /// (zero; readers ignore them) and zero padding up to the first chunk.
    public struct Header: Sendable, Equatable {
        public var major: UInt16
        public var minor: UInt16

        /// The version this writer writes.
        public init(major: UInt16 = LatteLayout.majorVersion, minor: UInt16 = LatteLayout.minorVersion) {
            self.major = major
            self.minor = minor
        }

        /// The header's `headerSize` bytes.
        public func encode() -> [UInt8] {
            var out = LatteLayout.magic
            out += littleEndianBytes(major) + littleEndianBytes(minor)
            out += [UInt8](repeating: 0, count: LatteLayout.headerSize - out.count)
            return out
        }

        /// The header of `file` (a whole file's bytes). Refuses bytes that do not start with
        /// the magic number, a file too small to hold a header and a trailer, and a major
        /// version this reader does not implement.
        public static func decode(_ file: UnsafeRawBufferPointer) throws(LatteFileError) -> Header {
            let minimum = LatteLayout.headerSize + LatteLayout.trailerSize
            guard file.count >= magic.count, file.prefix(magic.count).elementsEqual(magic) else {
                throw file.count < minimum ? .tooSmall(size: file.count) : .notLatte
            }
            guard file.count >= minimum else { throw .tooSmall(size: file.count) }
            let header = Header(major: file.loadUnaligned(fromByteOffset: 8, as: UInt16.self).littleEndian,
                                minor: file.loadUnaligned(fromByteOffset: 10, as: UInt16.self).littleEndian)
            guard header.major == LatteLayout.majorVersion else { throw .unsupportedVersion(major: header.major, minor: header.minor) }
            return header
        }
    }

    /// The last `trailerSize` bytes: where the manifest is, its checksum, and the end magic.
    public struct Trailer: Sendable, Equatable {
        /// Where the manifest starts: right after the data region.
        public var manifestOffset: UInt64
        /// The manifest's length, which ends right before the trailer.
        public var manifestLength: UInt64
        /// XXH64 (seed 0) of the manifest's bytes.
        public var manifestChecksum: UInt64

        public init(manifestOffset: UInt64, manifestLength: UInt64, manifestChecksum: UInt64) {
            self.manifestOffset = manifestOffset
            self.manifestLength = manifestLength
            self.manifestChecksum = manifestChecksum
        }

        /// The trailer's `trailerSize` bytes.
        public func encode() -> [UInt8] {
            littleEndianBytes(manifestOffset) + littleEndianBytes(manifestLength) + littleEndianBytes(manifestChecksum)
                + LatteLayout.endMagic
        }

        /// The trailer of `file` (a whole file's bytes, at least a header and a trailer long:
        /// `Header.decode` checks it). Refuses a missing end magic, a manifest over
        /// `maxManifestSize`, and a manifest that does not lie between the header and the trailer.
        public static func decode(_ file: UnsafeRawBufferPointer) throws(LatteFileError) -> Trailer {
            let t = file.count - LatteLayout.trailerSize
            guard file[(t + 24)...].elementsEqual(LatteLayout.endMagic) else { throw .badTrailer("no end marker") }
            func field(_ k: Int) -> UInt64 { file.loadUnaligned(fromByteOffset: t + 8 * k, as: UInt64.self).littleEndian }
            let trailer = Trailer(manifestOffset: field(0), manifestLength: field(1), manifestChecksum: field(2))
            let (offset, length) = (trailer.manifestOffset, trailer.manifestLength)
            guard length <= UInt64(LatteLayout.maxManifestSize) else { throw .manifestTooLarge(Int(clamping: length)) }
            guard offset >= UInt64(LatteLayout.headerSize), offset <= UInt64(t), length == UInt64(t) - offset else {
                throw .badTrailer("manifest at \(offset) with \(length) bytes does not end at the trailer (byte \(t))")
            }
            return trailer
        }

        /// The manifest's bytes in the file (valid once `decode` accepted the trailer).
        public var manifestRange: Range<Int> { Int(manifestOffset) ..< Int(manifestOffset + manifestLength) }
    }
}

/// `value`'s bytes, least significant first.
private func littleEndianBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
    (0 ..< MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
}
