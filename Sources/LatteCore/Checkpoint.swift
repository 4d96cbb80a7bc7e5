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

/// A checkpoint opened by a reader: the byte regions it was read from (mapped files, or
/// bytes in memory), metadata and tensors.
///
/// Tensors keep the order the reader gives them (file order for safetensors, pickle
/// order for PyTorch). Bytes are read lazily through `bytes(of:)`.
public final class Checkpoint: TensorStore, Sendable {
    public let format: CheckpointFormat
    /// The regions tensors are read from, in the order `TensorEntry.file` indexes them:
    /// mapped files, or buffers in memory labelled by where they came from.
    public let files: [any ByteRegion]
    /// String-to-string metadata (safetensors `__metadata__`, or reader-supplied facts).
    public let metadata: [String: String]
    public let tensors: [TensorEntry]
    /// Key paths of non-tensor leaves that were skipped (PyTorch containers: epochs, strings…).
    public let skippedLeaves: [String]
    /// `config.json` found beside the weights, if any.
    public let configPath: String?

    private let index: [String: Int]

    public init(format: CheckpointFormat, files: [any ByteRegion], metadata: [String: String] = [:],
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
    /// region when the stored view is already that, otherwise a materialized copy (at most
    /// the storage's bytes plus `TensorEntry.maxViewExpansionBytes`, which readers enforce;
    /// writers that need less at a time use `bytes(of:range:)`).
    public func bytes(of entry: TensorEntry) throws -> TensorBytes {
        try bytes(of: entry, range: 0 ..< entry.byteCount)
    }

    /// Bytes `range` of the tensor's contiguous little-endian form: a zero-copy slice of
    /// the region when the stored view is already that, otherwise a copy of just that range,
    /// so a strided, expanded or big-endian tensor is streamed a chunk at a time.
    public func bytes(of entry: TensorEntry, range: Range<Int>) throws -> TensorBytes {
        guard !entry.isMeta else { throw TensorReadError.noData(tensor: entry.name) }
        guard range.lowerBound >= 0, range.upperBound <= entry.byteCount else {
            throw TensorReadError.rangeOutsideTensor(tensor: entry.name, lower: range.lowerBound, upper: range.upperBound,
                                                     byteCount: entry.byteCount)
        }
        let file = files[entry.file]
        try file.checkUnchanged()
        guard let storage = file.slice(entry.storageOffset, entry.storageLength) else {
            throw TensorReadError.storageOutsideFile(tensor: entry.name, path: file.path)
        }
        if entry.isContiguous {
            // Readers checked offset and size against the storage; check again, overflow-safe,
            // since a TensorEntry can be built by hand.
            let (bits, o1) = entry.elementOffset.multipliedReportingOverflow(by: entry.dtype.bitWidth)
            let start = bits / 8
            let (end, o2) = start.addingReportingOverflow(range.upperBound)
            guard !o1, !o2, entry.elementOffset >= 0, end <= storage.count else {
                throw TensorReadError.storageOutsideFile(tensor: entry.name, path: file.path)
            }
            return TensorBytes(slice: UnsafeRawBufferPointer(rebasing: storage[start + range.lowerBound ..< end]), of: file)
        }
        // The copier trusts the view's arithmetic: check it here too (a few operations per call).
        do { try entry.checkViewInsideStorage() } catch { throw TensorReadError.badView(tensor: entry.name, error) }
        return TensorBytes(owned: try ViewCopier(entry: entry, storage: storage).copy(range))
    }

    /// A view that is not a dense little-endian slice (strided, expanded, big-endian) is
    /// copied whole by `bytes(of:)`.
    public func copiedBytes(of entry: TensorEntry) -> Int? {
        entry.isContiguous ? 0 : entry.dtype.byteCount(elements: entry.elementCount)
    }

    /// Hands the pages of tensor `e`'s stored bytes back to the kernel when they lie in a file
    /// map (a read-only private map: they are read again from the file if touched, and stay in
    /// the page cache); memory's pages are kept, as they would be lost.
    public func releasePages(of e: TensorEntry) {
        if let file = files[e.file] as? MappedFile { file.advise(e.storageOffset, e.storageLength, .drop) }
    }
}

extension TensorEntry: StoredTensor {}

/// Copies byte ranges of a strided view's logical (row-major, little-endian) form out of
/// its storage. Offsets are element counts checked by `TensorEntry.checkViewInsideStorage`
/// before a copier is made: no position computed here exceeds the storage.
struct ViewCopier {
    let entry: TensorEntry
    let storage: UnsafeRawBufferPointer
    let shape: [Int]
    let strides: [Int]

    init(entry: TensorEntry, storage: UnsafeRawBufferPointer) {
        self.entry = entry
        self.storage = storage
        shape = entry.shape
        strides = entry.strides
    }

    func copy(_ range: Range<Int>) throws -> [UInt8] {
        guard let width = entry.dtype.byteWidth else { throw TensorReadError.stridedSubByte(tensor: entry.name) }
        var out = [UInt8](repeating: 0, count: range.count)
        if range.isEmpty { return out }
        let first = range.lowerBound / width
        let end = (range.upperBound + width - 1) / width
        if range.lowerBound % width == 0, range.upperBound % width == 0 {
            out.withUnsafeMutableBytes { copyElements(first, end - first, width, into: $0) }
        } else {
            // A chunk boundary inside an element (16-byte complex128 and chunks of 8 bytes):
            // copy the whole elements it touches, then the part asked for.
            var whole = [UInt8](repeating: 0, count: (end - first) * width)
            whole.withUnsafeMutableBytes { copyElements(first, end - first, width, into: $0) }
            let skip = range.lowerBound - first * width
            out.withUnsafeMutableBytes { dst in
                whole.withUnsafeBytes { src in
                    dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[skip ..< skip + range.count]))
                }
            }
        }
        return out
    }

    /// Elements `first ..< first + count` of the row-major order, into `dst`.
    private func copyElements(_ first: Int, _ count: Int, _ width: Int, into dst: UnsafeMutableRawBufferPointer) {
        let rank = shape.count
        let src = storage.baseAddress!
        var to = dst.baseAddress!
        if rank == 0 {
            to.copyMemory(from: src + entry.elementOffset * width, byteCount: width)
        } else {
            // The multi-index of `first`, then runs along the innermost dimension.
            var idx = [Int](repeating: 0, count: rank)
            var rest = first
            for d in stride(from: rank - 1, through: 0, by: -1) {
                idx[d] = rest % shape[d]
                rest /= shape[d]
            }
            let inner = rank - 1, step = strides[inner]
            var left = count
            while left > 0 {
                var at = entry.elementOffset
                for d in 0 ..< inner { at += idx[d] * strides[d] }
                at += idx[inner] * step
                let n = min(shape[inner] - idx[inner], left)
                if step == 1 {
                    to.copyMemory(from: src + at * width, byteCount: n * width)
                } else {
                    for j in 0 ..< n { (to + j * width).copyMemory(from: src + (at + j * step) * width, byteCount: width) }
                }
                to += n * width
                left -= n
                idx[inner] += n
                var d = inner
                while d > 0, idx[d] == shape[d] {
                    idx[d] = 0
                    d -= 1
                    idx[d] += 1
                }
            }
        }
        if entry.byteOrder == .big {
            swapBytes(UnsafeMutableRawBufferPointer(rebasing: dst[0 ..< count * width]), unit: entry.dtype.swapUnit)
        }
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

/// Errors reading a tensor's bytes from an opened checkpoint.
public enum TensorReadError: Error, Equatable, CustomStringConvertible {
    case storageOutsideFile(tensor: String, path: String)
    case stridedSubByte(tensor: String)
    case noData(tensor: String)
    case rangeOutsideTensor(tensor: String, lower: Int, upper: Int, byteCount: Int)
    case badView(tensor: String, TensorLayoutError)

    public var description: String {
        switch self {
        case let .storageOutsideFile(t, p): "\(p): tensor '\(t)': its storage lies outside the file"
        case let .stridedSubByte(t): "tensor '\(t)': a strided view of a sub-byte dtype cannot be read"
        case let .noData(t): "tensor '\(t)': a meta-device tensor has a shape but no data"
        case let .rangeOutsideTensor(t, l, u, n): "tensor '\(t)': bytes \(l) ..< \(u) asked of a \(n)-byte tensor"
        case let .badView(t, e): "tensor '\(t)': \(e)"
        }
    }
}
