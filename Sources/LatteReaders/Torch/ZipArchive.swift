/// A read-only view of a zip archive held in memory (usually a memory map), zero-copy.
///
/// Only the directory structures are parsed: end-of-central-directory (and its zip64
/// forms), the central directory, and each record's local header, which is needed because
/// the data offset depends on the local name and extra lengths (torch pads the local extra
/// field to align storages to 64 bytes). Record data is never copied or inflated: a record
/// is an offset and a size in the underlying bytes. Every offset and size is checked
/// against the buffer before it is used, and nothing is allocated from a header's counts.
public struct ZipArchive: Sendable {
    /// One stored record.
    public struct Record: Sendable, Equatable {
        /// The full name, e.g. `archive/data/0`.
        public var name: String
        /// The name without the top-level folder, e.g. `data/0`.
        public var relativeName: String
        /// Offset of the record's data, absolute in the underlying file (`baseOffset` included).
        public var dataOffset: Int
        /// Stored size in bytes.
        public var size: Int
        /// Compression method (0 = stored).
        public var method: UInt16
        public var encrypted: Bool
    }

    /// Records in central-directory order.
    public let records: [Record]
    /// The single folder every record lives under (e.g. `archive`).
    public let topFolder: String
    /// Where `bytes` starts in its file: non-zero for a zip nested in another one.
    public let baseOffset: Int
    private let byRelativeName: [String: Int]

    /// The largest trailing span that can hold the end record: 22 bytes plus a 65,535-byte comment.
    public static let maxEndSearch = 65_557

    /// Parses the directory of the zip in `bytes`. `baseOffset` is the position of
    /// `bytes[0]` in the file, so that record offsets come out absolute.
    public init(bytes b: UnsafeRawBufferPointer, baseOffset: Int = 0) throws(ZipArchiveError) {
        self.baseOffset = baseOffset
        let zip = ZipRecords(bytes: b)
        let directory = try zip.centralDirectory(endRecord: try zip.findEndRecord())
        var records = try zip.entries(of: directory, baseOffset: baseOffset)
        let (top, relative) = try Self.underOneFolder(&records)
        self.records = records
        self.topFolder = top
        self.byRelativeName = relative
    }

    /// Sets each record's `relativeName`: torch writes every record under one folder (named
    /// after the file, or `archive`). Returns that folder and the records by relative name.
    private static func underOneFolder(_ records: inout [Record]) throws(ZipArchiveError) -> (String, [String: Int]) {
        guard !records.isEmpty else { throw .empty }
        guard let slash = records[0].name.firstIndex(of: "/") else { throw .recordOutsideFolder(records[0].name) }
        let top = String(records[0].name[..<slash])
        var relative: [String: Int] = [:]
        for i in records.indices {
            let n = records[i].name
            guard let s = n.firstIndex(of: "/") else { throw .recordOutsideFolder(n) }
            let folder = String(n[..<s])
            guard folder == top else { throw .notOneTopFolder(first: top, other: folder) }
            let rel = String(n[n.index(after: s)...])
            records[i].relativeName = rel
            relative[rel] = i
        }
        return (top, relative)
    }

    /// The record at `relativeName` (the path under the top folder), if there is one.
    public func record(_ relativeName: String) -> Record? { byRelativeName[relativeName].map { records[$0] } }

    /// The stored bytes of `record` within `file` (the buffer this archive's offsets refer to,
    /// i.e. the whole file for a nested archive too). Refuses compressed and encrypted records.
    public func data(of record: Record, in file: UnsafeRawBufferPointer) throws(ZipArchiveError) -> UnsafeRawBufferPointer {
        guard !record.encrypted else { throw .encryptedRecord(record: record.name) }
        guard record.method == 0 else { throw .compressedRecord(record: record.name, method: record.method) }
        guard record.dataOffset >= 0, record.dataOffset <= file.count, record.size <= file.count - record.dataOffset else {
            throw .recordOutsideFile(record: record.name, offset: record.dataOffset, size: UInt64(record.size), fileSize: file.count)
        }
        return UnsafeRawBufferPointer(rebasing: file[record.dataOffset ..< record.dataOffset + record.size])
    }
}
