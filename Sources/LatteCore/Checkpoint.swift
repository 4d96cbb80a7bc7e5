/// The container kinds `latte` reads, named as `inspect --json` prints them.
public enum CheckpointFormat: String, Sendable, Codable {
    case safetensors
    case safetensorsSharded = "safetensors-sharded"
    case pytorchZip = "pytorch-zip"
    case pytorchLegacy = "pytorch-legacy"
    case pytorchSharded = "pytorch-sharded"
    case pytorchExport = "pytorch-export"
    case latte
}

/// A checkpoint opened by a reader: its files (memory-mapped), metadata and tensors.
///
/// Tensors keep the order the reader gives them (file order for safetensors, pickle
/// order for PyTorch). Bytes are read lazily through `bytes(of:)`.
public final class Checkpoint: @unchecked Sendable {
    public let format: CheckpointFormat
    /// The mapped files, in the order `TensorEntry.file` indexes them.
    public let files: [MappedFile]
    /// String-to-string metadata (safetensors `__metadata__`, or reader-supplied facts).
    public let metadata: [String: String]
    public let tensors: [TensorEntry]
    /// Key paths of non-tensor leaves that were skipped (PyTorch containers: epochs, strings…).
    public let skippedLeaves: [String]
    /// `config.json` found beside the weights, if any.
    public let configPath: String?

    private let index: [String: Int]

    public init(format: CheckpointFormat, files: [MappedFile], metadata: [String: String] = [:],
                tensors: [TensorEntry], skippedLeaves: [String] = [], configPath: String? = nil) {
        self.format = format
        self.files = files
        self.metadata = metadata
        self.tensors = tensors
        self.skippedLeaves = skippedLeaves
        self.configPath = configPath
        var index = [String: Int](minimumCapacity: tensors.count)
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    /// The tensor called `name`, if the checkpoint has it.
    public func tensor(named name: String) -> TensorEntry? { index[name].map { tensors[$0] } }

    /// The tensor's bytes, contiguous, row-major, little-endian: a zero-copy slice of the
    /// map when the stored view is already that, otherwise a materialized copy.
    public func bytes(of entry: TensorEntry) throws -> TensorBytes {
        guard !entry.isMeta else { throw TensorReadError.noData(tensor: entry.name) }
        let file = files[entry.file]
        try file.checkUnchanged()
        guard let storage = file.slice(entry.storageOffset, entry.storageLength) else {
            throw TensorReadError.storageOutsideFile(tensor: entry.name, path: file.path)
        }
        if entry.isContiguous {
            let start = (entry.elementOffset * entry.dtype.bitWidth) / 8
            guard start + entry.byteCount <= storage.count else {
                throw TensorReadError.storageOutsideFile(tensor: entry.name, path: file.path)
            }
            return TensorBytes(owner: file, bytes: UnsafeRawBufferPointer(rebasing: storage[start ..< start + entry.byteCount]))
        }
        return TensorBytes(owned: try materialize(entry, from: storage))
    }

    private func materialize(_ e: TensorEntry, from storage: UnsafeRawBufferPointer) throws -> [UInt8] {
        guard let width = e.dtype.byteWidth else { throw TensorReadError.stridedSubByte(tensor: e.name) }
        let count = e.elementCount
        var out = [UInt8](repeating: 0, count: count * width)
        if count == 0 { return out }
        let rank = e.shape.count
        out.withUnsafeMutableBytes { dst in
            // Walk the index space; the innermost dimension is copied as a run when dense.
            let innerDense = rank == 0 || e.strides[rank - 1] == 1
            let innerCount = rank == 0 ? 1 : e.shape[rank - 1]
            var idx = [Int](repeating: 0, count: max(rank - 1, 0))
            var written = 0
            while written < count * width {
                var src = e.elementOffset
                for i in 0 ..< idx.count { src += idx[i] * e.strides[i] }
                if innerDense {
                    let n = innerCount * width
                    dst.baseAddress!.advanced(by: written).copyMemory(from: storage.baseAddress!.advanced(by: src * width), byteCount: n)
                    written += n
                } else {
                    let step = e.strides[rank - 1]
                    for j in 0 ..< innerCount {
                        dst.baseAddress!.advanced(by: written).copyMemory(
                            from: storage.baseAddress!.advanced(by: (src + j * step) * width), byteCount: width)
                        written += width
                    }
                }
                var d = idx.count - 1
                while d >= 0 {
                    idx[d] += 1
                    if idx[d] < e.shape[d] { break }
                    idx[d] = 0
                    d -= 1
                }
            }
            if e.byteOrder == .big { swapBytes(dst, unit: e.dtype.swapUnit) }
        }
        return out
    }
}

/// Reverses the bytes of every `unit`-byte word in place (big-endian storages).
public func swapBytes(_ buffer: UnsafeMutableRawBufferPointer, unit: Int) {
    guard unit > 1 else { return }
    var i = 0
    while i + unit <= buffer.count {
        var a = i, b = i + unit - 1
        while a < b { buffer.swapAt(a, b); a += 1; b -= 1 }
        i += unit
    }
}

/// A tensor's contiguous bytes: a slice of a memory map (kept alive here) or an owned copy.
public struct TensorBytes: @unchecked Sendable {
    private let owner: AnyObject?
    private let mapped: UnsafeRawBufferPointer?
    private let owned: [UInt8]?

    init(owner: MappedFile, bytes: UnsafeRawBufferPointer) {
        self.owner = owner
        self.mapped = bytes
        self.owned = nil
    }

    public init(owned: [UInt8]) {
        self.owner = nil
        self.mapped = nil
        self.owned = owned
    }

    /// True when the bytes are a slice of the memory map rather than a copy.
    public var isZeroCopy: Bool { mapped != nil }

    public var count: Int { mapped?.count ?? owned!.count }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let mapped { return try withExtendedLifetime(owner) { try body(mapped) } }
        return try owned!.withUnsafeBytes(body)
    }
}

/// Errors reading a tensor's bytes from an opened checkpoint.
public enum TensorReadError: Error, Equatable, CustomStringConvertible {
    case storageOutsideFile(tensor: String, path: String)
    case stridedSubByte(tensor: String)
    case noData(tensor: String)

    public var description: String {
        switch self {
        case let .storageOutsideFile(t, p): "\(p): tensor '\(t)': its storage lies outside the file"
        case let .stridedSubByte(t): "tensor '\(t)': a strided view of a sub-byte dtype cannot be read"
        case let .noData(t): "tensor '\(t)': a meta-device tensor has a shape but no data"
        }
    }
}
