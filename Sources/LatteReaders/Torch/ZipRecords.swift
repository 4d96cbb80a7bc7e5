/// The directory records of a zip held in memory, each read and checked by its own step,
/// in the order a reader meets them: the end of central directory record (found from the
/// end of the file), the zip64 locator and end record, the central directory's entries, and
/// each entry's local header. Every offset and length is checked against the buffer before
/// it is read.
struct ZipRecords {
    let bytes: UnsafeRawBufferPointer
    var size: Int { bytes.count }

    /// The end record's fixed part: 22 bytes, then its comment.
    static let endRecordSize = 22
    /// The zip64 locator's size (it sits right before the end record).
    static let zip64LocatorSize = 20
    /// The zip64 end record's fixed part.
    static let zip64EndRecordSize = 56
    /// A central directory entry's fixed part, then its name, extra field and comment.
    static let centralEntrySize = 46
    /// A local header's fixed part, then its name and extra field.
    static let localHeaderSize = 30
    /// The extra-field id of zip64 extended information.
    static let zip64ExtraID: UInt16 = 0x0001

    func u16(_ o: Int) -> UInt16 { bytes.loadUnaligned(fromByteOffset: o, as: UInt16.self).littleEndian }
    func u32(_ o: Int) -> UInt32 { bytes.loadUnaligned(fromByteOffset: o, as: UInt32.self).littleEndian }
    func u64(_ o: Int) -> UInt64 { bytes.loadUnaligned(fromByteOffset: o, as: UInt64.self).littleEndian }

    // MARK: end of central directory

    /// The offset of the end of central directory record. The scan goes backwards; the
    /// comment may hold the signature too, so it takes the last candidate whose comment
    /// length reaches exactly the end of the file, else the last one at all.
    func findEndRecord() throws(ZipArchiveError) -> Int {
        guard size >= Self.endRecordSize else { throw .centralDirectoryNotFound }
        var found = -1
        let lowest = max(size - ZipArchive.maxEndSearch, 0)
        var pos = size - Self.endRecordSize
        while pos >= lowest {
            if u32(pos) == ZipSignature.endOfCentralDirectory {
                if found < 0 { found = pos }
                if pos + Self.endRecordSize + Int(u16(pos + 20)) == size { return pos }
            }
            pos -= 1
        }
        guard found >= 0 else { throw .centralDirectoryNotFound }
        return found
    }

    /// Where the central directory is and how many entries it declares.
    struct CentralDirectory {
        var disk: UInt32
        var directoryDisk: UInt32
        var entryCount: UInt64
        var size: UInt64
        var offset: UInt64
    }

    /// The central directory the end record at `end` describes (through the zip64 end
    /// record when there is one), checked to lie on one disk and inside the file.
    func centralDirectory(endRecord end: Int) throws(ZipArchiveError) -> CentralDirectory {
        var d = CentralDirectory(disk: UInt32(u16(end + 4)), directoryDisk: UInt32(u16(end + 6)),
                                 entryCount: UInt64(u16(end + 10)), size: UInt64(u32(end + 12)), offset: UInt64(u32(end + 16)))
        if let zip64 = try zip64EndRecord(before: end) {
            d = zip64
        } else if d.entryCount == 0xFFFF || d.size == 0xFFFF_FFFF || d.offset == 0xFFFF_FFFF {
            throw .badZip64Record(reason: "the end record needs a zip64 record and there is none")
        }
        guard d.disk == 0, d.directoryDisk == 0 else { throw .multiDisk }
        guard d.offset <= UInt64(size), d.size <= UInt64(size) - d.offset else {
            throw .centralDirectoryOutsideFile(offset: d.offset, size: d.size, fileSize: size)
        }
        return d
    }

    // MARK: zip64 locator and end record

    /// The zip64 end record, when a locator sits right before the end record at `end` and
    /// points at it. torch always writes one; other writers only when a field overflows.
    func zip64EndRecord(before end: Int) throws(ZipArchiveError) -> CentralDirectory? {
        let locator = end - Self.zip64LocatorSize
        guard locator >= 0, u32(locator) == ZipSignature.zip64Locator else { return nil }
        let recordOffset = u64(locator + 8)
        guard recordOffset <= UInt64(locator), Int(recordOffset) + Self.zip64EndRecordSize <= locator else {
            throw .badZip64Record(reason: "the locator points at offset \(recordOffset), outside the file")
        }
        let r = Int(recordOffset)
        guard u32(r) == ZipSignature.zip64EndOfCentralDirectory else { throw .badZip64Record(reason: "no zip64 end record at offset \(r)") }
        return CentralDirectory(disk: u32(r + 16), directoryDisk: u32(r + 20), entryCount: u64(r + 32), size: u64(r + 40),
                                offset: u64(r + 48))
    }

    // MARK: central directory entries

    /// The records of `directory`, in its order, each with its data located through its
    /// local header. Offsets come out absolute (`baseOffset` added).
    func entries(of directory: CentralDirectory, baseOffset: Int) throws(ZipArchiveError) -> [ZipArchive.Record] {
        let start = Int(directory.offset), end = Int(directory.offset) + Int(directory.size)
        var records: [ZipArchive.Record] = []
        // Never reserve by the declared count: an entry takes at least 46 bytes.
        records.reserveCapacity(min(Int(clamping: directory.entryCount), Int(directory.size) / Self.centralEntrySize))
        var byName: [String: Int] = [:]
        var p = start
        var index = 0
        while UInt64(index) < directory.entryCount {
            guard p + Self.centralEntrySize <= end else {
                if p == end { throw .entryCountMismatch(declared: directory.entryCount, found: index) }
                throw .badCentralEntry(index: index, reason: "cut short by the end of the central directory")
            }
            let entry = try centralEntry(at: p, index: index, directoryEnd: end)
            let record = try located(entry, index: index, baseOffset: baseOffset)
            guard byName[record.name] == nil else { throw .duplicateRecord(record.name) }
            byName[record.name] = records.count
            records.append(record)
            p = entry.end
            index += 1
        }
        return records
    }

    /// One central directory entry, its zip64 sizes and offset applied.
    struct CentralEntry {
        var name: String
        /// Where the name's bytes are, to compare with the local header's.
        var nameOffset: Int
        var nameLength: Int
        var flags: UInt16
        var method: UInt16
        var compressedSize: UInt64
        var uncompressedSize: UInt64
        var disk: UInt32
        var localOffset: UInt64
        /// Where the next entry starts.
        var end: Int
    }

    /// The entry at `p`, whose fixed part is inside the directory (checked by the caller).
    func centralEntry(at p: Int, index: Int, directoryEnd: Int) throws(ZipArchiveError) -> CentralEntry {
        guard u32(p) == ZipSignature.centralEntry else { throw .badCentralEntry(index: index, reason: "bad signature") }
        let nameLen = Int(u16(p + 28)), extraLen = Int(u16(p + 30)), commentLen = Int(u16(p + 32))
        let nameOffset = p + Self.centralEntrySize
        let entryEnd = nameOffset + nameLen + extraLen + commentLen
        guard entryEnd <= directoryEnd else {
            throw .badCentralEntry(index: index, reason: "name, extra field or comment runs past the central directory")
        }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[nameOffset ..< nameOffset + nameLen]), as: UTF8.self)
        var entry = CentralEntry(name: name, nameOffset: nameOffset, nameLength: nameLen, flags: u16(p + 8), method: u16(p + 10),
                                 compressedSize: UInt64(u32(p + 20)), uncompressedSize: UInt64(u32(p + 24)),
                                 disk: UInt32(u16(p + 34)), localOffset: UInt64(u32(p + 42)), end: entryEnd)
        try applyZip64Extra(&entry, extra: nameOffset + nameLen ..< nameOffset + nameLen + extraLen, index: index)
        guard entry.disk == 0 else { throw .multiDisk }
        return entry
    }

    /// Zip64 extended information in the entry's extra field: the fields present follow the
    /// order of the 32-bit fields that are saturated.
    func applyZip64Extra(_ entry: inout CentralEntry, extra: Range<Int>, index: Int) throws(ZipArchiveError) {
        var e = extra.lowerBound
        while e + 4 <= extra.upperBound {
            let id = u16(e), len = Int(u16(e + 2))
            guard e + 4 + len <= extra.upperBound else {
                throw .badCentralEntry(index: index, reason: "record '\(entry.name)': extra field runs past its end")
            }
            if id == Self.zip64ExtraID {
                var f = e + 4
                let fieldEnd = e + 4 + len
                func next() throws(ZipArchiveError) -> UInt64 {
                    guard f + 8 <= fieldEnd else {
                        throw .badCentralEntry(index: index, reason: "record '\(entry.name)': zip64 extra field too short")
                    }
                    defer { f += 8 }
                    return u64(f)
                }
                if entry.uncompressedSize == 0xFFFF_FFFF { entry.uncompressedSize = try next() }
                if entry.compressedSize == 0xFFFF_FFFF { entry.compressedSize = try next() }
                if entry.localOffset == 0xFFFF_FFFF { entry.localOffset = try next() }
                if entry.disk == 0xFFFF {
                    guard f + 4 <= fieldEnd else {
                        throw .badCentralEntry(index: index, reason: "record '\(entry.name)': zip64 extra field too short")
                    }
                    entry.disk = u32(f)
                }
            }
            e += 4 + len
        }
    }

    // MARK: local headers

    /// The record of `entry`, its data located by its local header: the local name and
    /// extra lengths decide where the data starts (torch pads the local extra field to
    /// align storages to 64 bytes), and the data must fit in the file.
    func located(_ entry: CentralEntry, index: Int, baseOffset: Int) throws(ZipArchiveError) -> ZipArchive.Record {
        let name = entry.name
        guard entry.localOffset <= UInt64(size), UInt64(size) - entry.localOffset >= UInt64(Self.localHeaderSize) else {
            throw .badLocalHeader(record: name, reason: "offset \(entry.localOffset) is outside the file")
        }
        let lh = Int(entry.localOffset)
        guard u32(lh) == ZipSignature.localHeader else { throw .badLocalHeader(record: name, reason: "bad signature at offset \(lh)") }
        let localNameLen = Int(u16(lh + 26)), localExtraLen = Int(u16(lh + 28))
        let localName = lh + Self.localHeaderSize
        let dataOffset = localName + localNameLen + localExtraLen
        guard dataOffset <= size else { throw .badLocalHeader(record: name, reason: "name and extra field run past the end of the file") }
        guard localNameLen == entry.nameLength,
              UnsafeRawBufferPointer(rebasing: bytes[localName ..< localName + entry.nameLength]).elementsEqual(
                  UnsafeRawBufferPointer(rebasing: bytes[entry.nameOffset ..< entry.nameOffset + entry.nameLength]))
        else { throw .badLocalHeader(record: name, reason: "its name differs from the central directory's") }
        guard entry.compressedSize <= UInt64(size - dataOffset) else {
            throw .recordOutsideFile(record: name, offset: dataOffset, size: entry.compressedSize, fileSize: size)
        }
        if entry.method == 0, entry.compressedSize != entry.uncompressedSize {
            throw .badCentralEntry(index: index, reason: "record '\(name)' is stored but its sizes differ (\(entry.compressedSize) and \(entry.uncompressedSize))")
        }
        return ZipArchive.Record(name: name, relativeName: name, dataOffset: baseOffset + dataOffset, size: Int(entry.compressedSize),
                                 method: entry.method, encrypted: entry.flags & 1 != 0)
    }
}
