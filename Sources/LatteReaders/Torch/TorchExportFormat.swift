import LatteCore

/// `torch.export.save` archives (`.pt2`): the torch zip container with `archive_format`
/// "pt2". Weights are raw records under `data/weights/`, described by
/// `data/weights/<model>_weights_config.json`; constants likewise under `data/constants/`.
/// The JSON is read with `JSON.parse` (strict); an entry with `use_pickle: true` is a nested torch.save
/// zip and goes through the pickle machine.
enum TorchExportFormat {
    /// `torch._export.serde.schema.ScalarType` codes.
    static let scalarTypes: [Int: TorchScalarType] = [
        1: .uint8, 2: .int8, 3: .int16, 4: .int32, 5: .int64, 6: .float16, 7: .float32, 8: .float64,
        9: .complex32, 10: .complex64, 11: .complex128, 12: .bool, 13: .bfloat16,
        28: .uint16, 29: .float8_e4m3fn, 30: .float8_e5m2, 31: .float8_e4m3fnuz, 32: .float8_e5m2fnuz,
        33: .float8_e8m0fnu, 34: .uint32, 35: .uint64,
    ]
    /// `torch._export.serde.schema.Layout.Strided`.
    static let stridedLayout = 7
    /// Config files are small; refuse absurd ones before parsing them.
    static let maxConfigSize = 256 << 20

    static func read(_ zip: ZipArchive, file: UnsafeRawBufferPointer, fileIndex: Int) throws -> TorchContents {
        let order = try TorchZipFormat.byteOrder(zip, file: file)
        let builder = TensorEntryBuilder(fileIndex: fileIndex, byteOrder: order)
        var configs: [(folder: String, record: ZipArchive.Record)] = []
        for folder in ["data/weights/", "data/constants/"] {
            let suffix = folder == "data/weights/" ? "_weights_config.json" : "_constants_config.json"
            let found = zip.records.filter {
                $0.relativeName.hasPrefix(folder) && $0.relativeName.hasSuffix(suffix)
                    && !$0.relativeName.dropFirst(folder.count).contains("/")
            }.sorted { $0.relativeName < $1.relativeName }
            configs += found.map { (folder, $0) }
        }
        guard !configs.isEmpty else { throw TorchReaderError.exportMissingConfig }

        var tensors: [TensorEntry] = []
        var skipped: [String] = []
        var seen = Set<String>()
        for (folder, record) in configs {
            let configName = record.relativeName
            func bad(_ reason: String) -> TorchReaderError { .exportBadConfig(file: configName, reason: reason) }
            let text = try zip.data(of: record, in: file)
            guard text.count <= maxConfigSize else { throw bad("\(text.count) bytes, larger than the \(maxConfigSize)-byte limit") }
            let root: JSONValue
            do { root = try JSON.parse(text) } catch { throw bad("\(error)") }
            guard let entries = root["config"]?.objectValue else { throw bad("no 'config' object") }
            for (fqn, entry) in entries {
                do {
                    guard seen.insert(fqn).inserted else { throw TorchReaderError.duplicateTensorName }
                    guard entry.objectValue != nil else { throw bad("entry '\(fqn)' is not an object") }
                    guard let pathName = entry["path_name"]?.stringValue, isSafeRelativePath(pathName) else {
                        throw bad("entry '\(fqn)' has no valid 'path_name'")
                    }
                    guard let dataRecord = zip.record(folder + pathName) else { throw TorchReaderError.exportMissingRecord(folder + pathName) }
                    if entry["use_pickle"]?.boolValue == true {
                        tensors.append(try pickled(fqn, dataRecord, zip: zip, file: file, fileIndex: fileIndex))
                        continue
                    }
                    guard let meta = entry["tensor_meta"], meta.objectValue != nil else {
                        // Script objects and other non-tensor constants.
                        skipped.append(fqn)
                        continue
                    }
                    let t = try tensorValue(meta, storageKey: folder + pathName, bad: bad)
                    let storage = TensorEntryBuilder.Located(offset: dataRecord.dataOffset,
                                                             length: try zip.data(of: dataRecord, in: file).count,
                                                             key: folder + pathName)
                    tensors.append(try builder.entry(name: fqn, tensor: t, storage: storage))
                } catch {
                    throw TensorError(tensor: fqn, error)
                }
            }
        }
        return TorchContents(format: .pytorchExport, tensors: tensors, metadata: [:], skipped: skipped)
    }

    /// A `tensor_meta` object: dtype code, sizes, strides and storage offset (all `as_int`).
    static func tensorValue(_ meta: JSONValue, storageKey: String, bad: (String) -> TorchReaderError) throws -> TensorValue {
        guard let code = meta["dtype"]?.intValue else { throw bad("tensor_meta has no integer 'dtype'") }
        guard let scalar = scalarTypes[code] else { throw TorchReaderError.exportUnknownDTypeCode(code) }
        if let layout = meta["layout"]?.intValue, layout != stridedLayout { throw TorchReaderError.exportUnsupportedLayout(layout) }
        func ints(_ key: String) throws -> [Int] {
            guard let items = meta[key]?.arrayValue else { throw bad("tensor_meta has no '\(key)' array") }
            return try items.map { item in
                guard let i = item["as_int"]?.intValue else {
                    if item.objectValue != nil { throw TorchReaderError.exportSymbolic(key) }
                    throw bad("'\(key)' must hold {\"as_int\": n} objects")
                }
                return i
            }
        }
        let sizes = try ints("sizes"), strides = try ints("strides")
        guard let offsetValue = meta["storage_offset"] else { throw bad("tensor_meta has no 'storage_offset'") }
        guard let offset = offsetValue["as_int"]?.intValue else { throw TorchReaderError.exportSymbolic("storage_offset") }
        let storage = StorageRef(type: .untyped, key: storageKey, location: "cpu", numel: 0, view: nil)
        return TensorValue(storage: storage, scalarType: scalar, storageOffset: offset, size: sizes, stride: strides)
    }

    /// A `use_pickle` entry: the record is a torch.save zip holding one tensor.
    static func pickled(_ fqn: String, _ record: ZipArchive.Record, zip: ZipArchive, file: UnsafeRawBufferPointer,
                        fileIndex: Int) throws -> TensorEntry {
        let inner = try zip.data(of: record, in: file)
        let nested = try ZipArchive(bytes: inner, baseOffset: record.dataOffset)
        let (tensors, _) = try TorchZipFormat.read(nested, file: file, fileIndex: fileIndex)
        guard tensors.count == 1, var t = tensors.first, t.name.isEmpty else {
            throw TorchReaderError.exportPickledEntryNotATensor
        }
        t.name = fqn
        return t
    }
}
