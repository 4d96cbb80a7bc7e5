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
        let size = b.count
        func u16(_ o: Int) -> UInt16 { b.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian }
        func u32(_ o: Int) -> UInt32 { b.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian }
        func u64(_ o: Int) -> UInt64 { b.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian }

        // End of central directory: scan backwards; the comment may hold the signature too,
        // so take the last candidate whose comment length reaches exactly the end of the file,
        // else the last one at all.
        guard size >= 22 else { throw .centralDirectoryNotFound }
        var eocd = -1
        var lowest = size - Self.maxEndSearch
        if lowest < 0 { lowest = 0 }
        var pos = size - 22
        while pos >= lowest {
            if u32(pos) == 0x0605_4B50 {
                if eocd < 0 { eocd = pos }
                if pos + 22 + Int(u16(pos + 20)) == size { eocd = pos; break }
            }
            pos -= 1
        }
        guard eocd >= 0 else { throw .centralDirectoryNotFound }

        var diskNumber = UInt32(u16(eocd + 4))
        var cdDisk = UInt32(u16(eocd + 6))
        var entryCount = UInt64(u16(eocd + 10))
        var cdSize = UInt64(u32(eocd + 12))
        var cdOffset = UInt64(u32(eocd + 16))

        // Zip64: a locator right before the end record points at the zip64 end record.
        // torch always writes one; other writers only when a field overflows.
        if eocd >= 20, u32(eocd - 20) == 0x0706_4B50 {
            let recordOffset = u64(eocd - 20 + 8)
            guard recordOffset <= UInt64(eocd - 20), Int(recordOffset) + 56 <= eocd - 20 else {
                throw .badZip64Record(reason: "the locator points at offset \(recordOffset), outside the file")
            }
            let r = Int(recordOffset)
            guard u32(r) == 0x0606_4B50 else { throw .badZip64Record(reason: "no zip64 end record at offset \(r)") }
            diskNumber = u32(r + 16)
            cdDisk = u32(r + 20)
            entryCount = u64(r + 32)
            cdSize = u64(r + 40)
            cdOffset = u64(r + 48)
        } else if entryCount == 0xFFFF || cdSize == 0xFFFF_FFFF || cdOffset == 0xFFFF_FFFF {
            throw .badZip64Record(reason: "the end record needs a zip64 record and there is none")
        }
        guard diskNumber == 0, cdDisk == 0 else { throw .multiDisk }
        guard cdOffset <= UInt64(size), cdSize <= UInt64(size) - cdOffset else {
            throw .centralDirectoryOutsideFile(offset: cdOffset, size: cdSize, fileSize: size)
        }
        let cdStart = Int(cdOffset), cdEnd = Int(cdOffset) + Int(cdSize)

        var records: [Record] = []
        // Never reserve by the declared count: an entry takes at least 46 bytes.
        records.reserveCapacity(min(Int(clamping: entryCount), Int(cdSize) / 46))
        var byName: [String: Int] = [:]
        var p = cdStart
        var index = 0
        while UInt64(index) < entryCount {
            guard p + 46 <= cdEnd else {
                if p == cdEnd { throw .entryCountMismatch(declared: entryCount, found: index) }
                throw .badCentralEntry(index: index, reason: "cut short by the end of the central directory")
            }
            guard u32(p) == 0x0201_4B50 else { throw .badCentralEntry(index: index, reason: "bad signature") }
            let flags = u16(p + 8)
            let method = u16(p + 10)
            var compSize = UInt64(u32(p + 20))
            var uncompSize = UInt64(u32(p + 24))
            let nameLen = Int(u16(p + 28)), extraLen = Int(u16(p + 30)), commentLen = Int(u16(p + 32))
            var disk = UInt32(u16(p + 34))
            var localOffset = UInt64(u32(p + 42))
            let entryEnd = p + 46 + nameLen + extraLen + commentLen
            guard entryEnd <= cdEnd else {
                throw .badCentralEntry(index: index, reason: "name, extra field or comment runs past the central directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: b[p + 46 ..< p + 46 + nameLen]), as: UTF8.self)

            // Zip64 extended information: present fields follow the order of the
            // 32-bit fields that are saturated.
            var e = p + 46 + nameLen
            let extraEnd = e + extraLen
            while e + 4 <= extraEnd {
                let id = u16(e), len = Int(u16(e + 2))
                guard e + 4 + len <= extraEnd else {
                    throw .badCentralEntry(index: index, reason: "record '\(name)': extra field runs past its end")
                }
                if id == 0x0001 {
                    var f = e + 4
                    func next() throws(ZipArchiveError) -> UInt64 {
                        guard f + 8 <= e + 4 + len else {
                            throw .badCentralEntry(index: index, reason: "record '\(name)': zip64 extra field too short")
                        }
                        defer { f += 8 }
                        return u64(f)
                    }
                    if uncompSize == 0xFFFF_FFFF { uncompSize = try next() }
                    if compSize == 0xFFFF_FFFF { compSize = try next() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next() }
                    if disk == 0xFFFF {
                        guard f + 4 <= e + 4 + len else {
                            throw .badCentralEntry(index: index, reason: "record '\(name)': zip64 extra field too short")
                        }
                        disk = u32(f)
                    }
                }
                e += 4 + len
            }
            guard disk == 0 else { throw .multiDisk }

            // The local header: its own name and extra lengths decide where the data starts.
            guard localOffset <= UInt64(size), UInt64(size) - localOffset >= 30 else {
                throw .badLocalHeader(record: name, reason: "offset \(localOffset) is outside the file")
            }
            let lh = Int(localOffset)
            guard u32(lh) == 0x0403_4B50 else { throw .badLocalHeader(record: name, reason: "bad signature at offset \(lh)") }
            let localNameLen = Int(u16(lh + 26)), localExtraLen = Int(u16(lh + 28))
            let dataOffset = lh + 30 + localNameLen + localExtraLen
            guard dataOffset <= size else { throw .badLocalHeader(record: name, reason: "name and extra field run past the end of the file") }
            guard localNameLen == nameLen,
                  UnsafeRawBufferPointer(rebasing: b[lh + 30 ..< lh + 30 + nameLen]).elementsEqual(
                      UnsafeRawBufferPointer(rebasing: b[p + 46 ..< p + 46 + nameLen]))
            else { throw .badLocalHeader(record: name, reason: "its name differs from the central directory's") }
            guard compSize <= UInt64(size - dataOffset) else {
                throw .recordOutsideFile(record: name, offset: dataOffset, size: compSize, fileSize: size)
            }
            if method == 0, compSize != uncompSize {
                throw .badCentralEntry(index: index, reason: "record '\(name)' is stored but its sizes differ (\(compSize) and \(uncompSize))")
            }

            guard byName[name] == nil else { throw .duplicateRecord(name) }
            byName[name] = records.count
            records.append(Record(name: name, relativeName: name, dataOffset: baseOffset + dataOffset, size: Int(compSize),
                                  method: method, encrypted: flags & 1 != 0))
            p = entryEnd
            index += 1
        }
        guard !records.isEmpty else { throw .empty }

        // torch writes every record under one folder (named after the file, or `archive`).
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
        self.records = records
        self.topFolder = top
        self.byRelativeName = relative
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
