/// Everything that can be wrong with a zip container (torch.save, TorchScript, `.pt2`).
public enum ZipArchiveError: Error, Equatable, CustomStringConvertible {
    /// No end-of-central-directory record in the last 65,557 bytes.
    case centralDirectoryNotFound
    /// The zip64 locator points outside the file or not at a zip64 record.
    case badZip64Record(reason: String)
    /// A zip split over several disks (never written by torch).
    case multiDisk
    /// The central directory's offset/size lie outside the file.
    case centralDirectoryOutsideFile(offset: UInt64, size: UInt64, fileSize: Int)
    /// An entry of the central directory is cut short or has a wrong signature.
    case badCentralEntry(index: Int, reason: String)
    /// The central directory holds fewer entries than the end record declares.
    case entryCountMismatch(declared: UInt64, found: Int)
    /// A record's local header is missing, damaged, or disagrees with the central directory.
    case badLocalHeader(record: String, reason: String)
    /// A record's data runs past the end of the file.
    case recordOutsideFile(record: String, offset: Int, size: UInt64, fileSize: Int)
    /// A record is compressed; torch stores every record uncompressed and we never inflate.
    case compressedRecord(record: String, method: UInt16)
    /// A record is encrypted.
    case encryptedRecord(record: String)
    /// Two records have one name.
    case duplicateRecord(String)
    /// The records are not all under one top-level folder.
    case notOneTopFolder(first: String, other: String)
    /// A record name that is not under any folder.
    case recordOutsideFolder(String)
    /// The archive holds no records at all.
    case empty

    public var description: String {
        switch self {
        case .centralDirectoryNotFound: "central directory not found: the file is truncated"
        case let .badZip64Record(r): "invalid zip64 end record: \(r)"
        case .multiDisk: "a zip archive split over several disks is not supported"
        case let .centralDirectoryOutsideFile(o, s, f):
            "central directory (\(s) bytes at offset \(o)) lies outside the \(f)-byte file: the file is truncated or damaged"
        case let .badCentralEntry(i, r): "central directory entry \(i): \(r)"
        case let .entryCountMismatch(d, f): "the zip end record declares \(d) entries, the central directory holds \(f)"
        case let .badLocalHeader(rec, r): "record '\(rec)': invalid local header: \(r)"
        case let .recordOutsideFile(rec, o, s, f): "record '\(rec)' (\(s) bytes at offset \(o)) runs past the end of the \(f)-byte file"
        case let .compressedRecord(rec, m):
            "record '\(rec)' is compressed (method \(m)\(m == 8 ? ", deflate" : "")); PyTorch checkpoints store records uncompressed"
        case let .encryptedRecord(rec): "record '\(rec)' is encrypted"
        case let .duplicateRecord(n): "record '\(n)' appears twice in the zip"
        case let .notOneTopFolder(a, b): "records must all be under one top-level folder, found '\(a)/' and '\(b)/'"
        case let .recordOutsideFolder(n): "record '\(n)' is not under the archive's top-level folder"
        case .empty: "the zip archive holds no records"
        }
    }
}
