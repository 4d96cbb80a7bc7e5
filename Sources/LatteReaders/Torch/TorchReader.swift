import LatteCore

/// What a PyTorch file holds once read: its tensors (views over storages in the file)
/// and the key paths of non-tensor leaves that were skipped.
public struct TorchContents: Sendable {
    public var format: CheckpointFormat
    public var tensors: [TensorEntry]
    public var metadata: [String: String]
    public var skipped: [String]
}

/// Reads files written by `torch.save` (zip and legacy) and `torch.export.save` (`.pt2`).
///
/// Nothing is executed: pickles go through `PickleMachine`, whose globals are an
/// allowlist of names. Tensors point into the memory map; no storage is copied.
public enum TorchReader {
    /// Reads one mapped PyTorch file; tensors point into it as file number `fileIndex`.
    /// Errors name the file (and the tensor, when one is involved).
    public static func read(file: MappedFile, fileIndex: Int) throws -> TorchContents {
        do {
            return try read(bytes: file.bytes, path: file.path, fileIndex: fileIndex)
        } catch let e as LocatedError {
            throw e
        } catch {
            throw LocatedError(path: file.path, error)
        }
    }

    /// Logical bytes the tensors of one file may hold in all: this many times the file's
    /// bytes plus `logicalBytesAllowance`.
    ///
    /// Names and views can share a storage, and each name is converted in full: tied
    /// weights give an embedding two to four names, `{'model': sd, 'ema': sd}` names every
    /// tensor twice. A few pickle bytes per extra name would otherwise let a 1 GiB file
    /// convert to a terabyte. Four times the file covers a checkpoint saved under four
    /// names at once; the allowance covers small files with expanded buffers (each view's
    /// own excess is bounded by `TensorEntry.maxViewExpansionBytes`).
    static let logicalBytesPerFileByte = 4
    static let logicalBytesAllowance = 64 << 20

    /// Reads PyTorch bytes (the whole file); `path` is used in errors only.
    static func read(bytes: UnsafeRawBufferPointer, path: String, fileIndex: Int) throws -> TorchContents {
        let contents: TorchContents
        if ZipSignature.startsArchive(bytes) {
            let zip = try ZipArchive(bytes: bytes)
            contents = try readZip(zip, file: bytes, path: path, fileIndex: fileIndex)
        } else if LegacyTorchFormat.looksLikePickle(bytes) {
            contents = try LegacyTorchFormat.read(bytes, path: path, fileIndex: fileIndex)
        } else {
            throw TorchReaderError.notAPyTorchFile
        }
        try checkLogicalBytes(contents.tensors, fileBytes: bytes.count, path: path)
        return contents
    }

    /// Refuses tensors whose logical bytes add up to more than the file's bytes allow
    /// (`logicalBytesPerFileByte`), naming the tensor that crosses the limit.
    static func checkLogicalBytes(_ tensors: [TensorEntry], fileBytes: Int, path: String) throws {
        let (scaled, o1) = fileBytes.multipliedReportingOverflow(by: logicalBytesPerFileByte)
        let (limit, o2) = scaled.addingReportingOverflow(logicalBytesAllowance)
        if o1 || o2 { return }
        var total = 0
        for t in tensors where !t.isMeta {
            // byteCount is bounded by the view checks (storage + allowance), so this cannot overflow.
            total += t.byteCount
            guard total <= limit else {
                throw LocatedError(path: path, tensor: t.name, TorchReaderError.logicalBytesTooLarge(
                    total: total, fileBytes: fileBytes, limit: limit, perByte: logicalBytesPerFileByte, allowance: logicalBytesAllowance))
            }
        }
    }

    /// Tells the three kinds of zip apart by their records: TorchScript (`code/`,
    /// `constants.pkl`), `torch.export` (`archive_format` = "pt2"), `torch.save` (`data.pkl`).
    static func readZip(_ zip: ZipArchive, file: UnsafeRawBufferPointer, path: String, fileIndex: Int) throws -> TorchContents {
        if zip.record("constants.pkl") != nil || zip.records.contains(where: { $0.relativeName.hasPrefix("code/") }) {
            throw TorchReaderError.torchScriptArchive
        }
        if let r = zip.record("archive_format") {
            let text = String(decoding: try zip.data(of: r, in: file), as: UTF8.self)
            if text.trimmingWhitespace() == "pt2" {
                return try TorchExportFormat.read(zip, file: file, path: path, fileIndex: fileIndex)
            }
        }
        guard zip.record("data.pkl") != nil else { throw TorchReaderError.zipWithoutPickle }
        let (tensors, skipped) = try TorchZipFormat.read(zip, file: file, path: path, fileIndex: fileIndex)
        return TorchContents(format: .pytorchZip, tensors: tensors, metadata: [:], skipped: skipped)
    }
}

/// The `torch.save` zip layout: `data.pkl` describes the object; each storage is the
/// record `data/<key>`; `byteorder` says how its elements are stored.
enum TorchZipFormat {
    static func read(_ zip: ZipArchive, file: UnsafeRawBufferPointer, path: String, fileIndex: Int,
                     machine: PickleMachine = PickleMachine()) throws -> (tensors: [TensorEntry], skipped: [String]) {
        let order = try byteOrder(zip, file: file)
        guard let pklRecord = zip.record("data.pkl") else { throw TorchReaderError.zipWithoutPickle }
        let pkl = try zip.data(of: pklRecord, in: file)
        let result = try machine.run(pkl)
        defer { result.release() }
        let collected = try TensorCollector.collect(result.value, pickleBytes: result.length)
        let builder = TensorEntryBuilder(path: path, fileIndex: fileIndex, byteOrder: order)
        var located: [String: TensorEntryBuilder.Located] = [:]
        let tensors = try builder.entries(collected.tensors) { name, s, _ in
            if let l = located[s.key] {
                // One storage, several views: the largest declared size must still fit.
                let needed = try declaredBytes(s)
                guard needed <= l.length else {
                    return try locate(zip, file: file, path: path, name: name, s)
                }
                return l
            }
            let l = try locate(zip, file: file, path: path, name: name, s)
            located[s.key] = l
            return l
        }
        return (tensors, collected.skipped)
    }

    /// Storage bytes the pickle declares: numel elements of the storage class.
    static func declaredBytes(_ s: StorageRef) throws(TorchReaderError) -> Int {
        let (n, o) = s.numel.multipliedReportingOverflow(by: s.type.elementSize)
        guard !o else { throw .storageSizeOverflow(key: s.key, numel: s.numel, elementSize: s.type.elementSize) }
        return n
    }

    /// The storage's record, checked to hold the declared size before anything uses it.
    static func locate(_ zip: ZipArchive, file: UnsafeRawBufferPointer, path: String, name: String,
                       _ s: StorageRef) throws -> TensorEntryBuilder.Located {
        do {
            let needed = try declaredBytes(s)
            guard let r = zip.record("data/\(s.key)") else { throw TorchReaderError.missingStorageRecord(key: s.key) }
            let bytes = try zip.data(of: r, in: file)
            guard needed <= bytes.count else {
                throw TorchReaderError.storageTooLarge(key: s.key, declaredBytes: needed, recordBytes: bytes.count)
            }
            return .init(offset: r.dataOffset, length: needed, key: s.key)
        } catch let e as LocatedError {
            throw e
        } catch {
            throw LocatedError(path: path, tensor: name, error)
        }
    }

    /// The `byteorder` record ("little" when absent, as torch assumes).
    static func byteOrder(_ zip: ZipArchive, file: UnsafeRawBufferPointer) throws -> ByteOrder {
        guard let r = zip.record("byteorder") else { return .little }
        let text = String(decoding: try zip.data(of: r, in: file), as: UTF8.self).trimmingWhitespace()
        switch text {
        case "little": return .little
        case "big": return .big
        default: throw TorchReaderError.badByteOrder(text)
        }
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace.
    func trimmingWhitespace() -> String {
        let ws: Set<Character> = [" ", "\n", "\r", "\t"]
        var s = Substring(self)
        while let f = s.first, ws.contains(f) { s.removeFirst() }
        while let l = s.last, ws.contains(l) { s.removeLast() }
        return String(s)
    }
}
