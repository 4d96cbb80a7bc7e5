import LatteCore

/// What can be wrong with a PyTorch file beyond its zip container and its pickle: the
/// torch-level layout (storages, dtypes, views), the legacy stream, and `.pt2` archives.
/// Errors about one tensor are wrapped in a `LocatedError` that names it.
public enum TorchReaderError: Error, Equatable, CustomStringConvertible {
    // Recognition
    case notAPyTorchFile
    case torchScriptArchive
    case zipWithoutPickle
    case badByteOrder(String)

    // Tensors and storages
    case missingStorageRecord(key: String)
    case storageTooLarge(key: String, declaredBytes: Int, recordBytes: Int)
    case storageSizeOverflow(key: String, numel: Int, elementSize: Int)
    case dtypeWithoutName(String)
    case quantizedDType(String)
    case badView(TensorLayoutError)
    case badMetaShape([Int])
    case duplicateTensorName
    case logicalBytesTooLarge(total: Int, fileBytes: Int, limit: Int, perByte: Int, allowance: Int)
    case cyclicContainer(path: String)
    case nestingTooDeep(path: String, limit: Int)
    case tooManyKeyPaths(limit: Int, pickleBytes: Int, perByte: Int, allowance: Int)
    case keyPathsTooLong(limit: Int, pickleBytes: Int, perByte: Int, allowance: Int)

    // Legacy format
    case legacyBadMagic
    case legacyBadProtocolVersion(String)
    case legacyBadSysInfo(String)
    case legacyBadStorageKeys(String)
    case legacyUnknownStorageKey(String)
    case legacyStorageOverrun(key: String, count: Int, elementSize: Int, remaining: Int)
    case legacyStorageCountMismatch(key: String, declared: Int, found: Int)
    case legacyViewOutsideStorage(key: String, view: String)

    // torch.export archives
    case exportMissingConfig
    case exportBadConfig(file: String, reason: String)
    case exportUnknownDTypeCode(Int)
    case exportSymbolic(String)
    case exportUnsupportedLayout(Int)
    case exportMissingRecord(String)
    case exportPickledEntryNotATensor

    public var description: String {
        switch self {
        case .notAPyTorchFile: "not a PyTorch file: neither a zip archive nor a legacy torch.save stream"
        case .torchScriptArchive: "a TorchScript archive, not a state dict (it holds code/ and constants.pkl); save the model's state_dict instead"
        case .zipWithoutPickle: "a zip archive without data.pkl: not a torch.save checkpoint"
        case let .badByteOrder(s): "the byteorder record says '\(s.prefix(20))', expected 'little' or 'big'"
        case let .missingStorageRecord(k): "its storage 'data/\(k)' is not in the archive"
        case let .storageTooLarge(k, d, r): "storage '\(k)' declares \(d) bytes but its data holds only \(r)"
        case let .storageSizeOverflow(k, n, e): "storage '\(k)' declares \(n) elements of \(e) bytes: the size overflows"
        case let .dtypeWithoutName(d): "dtype torch.\(d) has no safetensors name and cannot be read"
        case let .quantizedDType(d): "a quantized tensor (torch.\(d)): not supported"
        case let .badView(e):
            if case .expandedBeyondStorage = e { "its view is too large: \(e)" } else { "its view does not fit its storage: \(e)" }
        case let .badMetaShape(s): "meta tensor shape \(s) is negative or too large"
        case .duplicateTensorName: "two tensors have this name (their key paths collide)"
        case let .logicalBytesTooLarge(t, f, l, k, a):
            "the tensors up to this one hold \(t) logical bytes, more than the \(l) allowed for a \(f)-byte file (\(k) times its bytes plus \(a >> 20) MiB): names and views sharing storages are bounded"
        case let .cyclicContainer(p): "the container at '\(p)' contains itself"
        case let .nestingTooDeep(p, l): "containers nest deeper than \(l) levels at '\(p.prefix(80))'"
        case let .tooManyKeyPaths(l, n, k, a):
            "the pickled object unfolds into more than \(l) key paths (the limit for its \(n)-byte pickle: \(k) per byte plus \(a)): containers shared under many keys (a DAG) are refused"
        case let .keyPathsTooLong(l, n, k, a):
            "the pickled object's key paths take more than \(l) bytes (the limit for its \(n)-byte pickle: \(k) per byte plus \(a >> 20) MiB): containers shared under many keys (a DAG) or long keys nested deep are refused"
        case .legacyBadMagic: "not a legacy PyTorch file: it does not start with the magic number 0x1950a86a20f9469cfc6c"
        case let .legacyBadProtocolVersion(v): "legacy PyTorch file: protocol version \(v), expected 1001"
        case let .legacyBadSysInfo(r): "legacy PyTorch file: invalid sys_info record: \(r)"
        case let .legacyBadStorageKeys(r): "legacy PyTorch file: invalid storage key list: \(r)"
        case let .legacyUnknownStorageKey(k): "legacy PyTorch file: storage '\(k)' is listed but no tensor uses it"
        case let .legacyStorageOverrun(k, c, e, r):
            "legacy PyTorch file: storage '\(k)' declares \(c) elements of \(e) bytes, but only \(r) bytes remain in the file"
        case let .legacyStorageCountMismatch(k, d, f): "legacy PyTorch file: storage '\(k)' holds \(f) elements, its reference declares \(d)"
        case let .legacyViewOutsideStorage(k, v): "legacy PyTorch file: storage view '\(v)' lies outside its storage '\(k)'"
        case .exportMissingConfig: "torch.export archive without data/weights or data/constants configuration"
        case let .exportBadConfig(f, r): "torch.export archive: invalid \(f): \(r)"
        case let .exportUnknownDTypeCode(c): "torch.export dtype code \(c) is unknown"
        case let .exportSymbolic(w): "torch.export tensor with a symbolic \(w): not supported"
        case let .exportUnsupportedLayout(l): "torch.export tensor with layout \(l) (not strided): not supported"
        case let .exportMissingRecord(r): "torch.export archive: record '\(r)' is missing"
        case .exportPickledEntryNotATensor: "torch.export pickled entry does not hold a single tensor"
        }
    }
}
