import LatteCore
import LatteSystem

/// Weights read from any tensor store (a checkpoint, mapped or in memory, or a `.latte`
/// file), decoded to float32 by `FloatDecoding`, one tensor at a time: only the tensors
/// asked for are read.
///
/// After decoding a tensor whose bytes are a slice of a file map, its whole pages are
/// handed back to the kernel (`madvise(MADV_DONTNEED)`, the map is read-only and private,
/// so they are simply re-read from the file if ever touched again): the process keeps the
/// float32 copy only, and weights read once (the context model, read layer by layer during
/// a prefill) do not stay in its resident set.
///
/// A store with group sections (`.latte`) has a group's section read in one pass by
/// `prepare(group:)`; its bytes are kept until the next group is prepared: the model copies
/// them into its float32 buffers right after `prepare`, so keeping every group's would only
/// hold the replica weights twice (3 GB more for the paper's 2B model in BF16).
///
/// Not Sendable: `prepare` replaces the group's bytes, so one model reads a source at a time.
public final class DecodingWeightSource<Store: TensorStore>: WeightSource {
    public let store: Store
    /// Whether to release the file pages of a tensor once it is decoded.
    public var releasesPagesAfterReading: Bool
    /// The tensors of the last prepared group's section, by name.
    private var prepared: [String: TensorBytes] = [:]

    public init(_ store: Store, releasesPagesAfterReading: Bool = true) {
        self.store = store
        self.releasesPagesAfterReading = releasesPagesAfterReading
    }

    /// Bytes of prepared group tensors held now (one group's at most).
    var preparedByteCount: Int { prepared.values.reduce(0) { $0 + $1.count } }

    public func shape(_ name: String) -> [Int]? { store.tensor(named: name)?.shape }

    public func readScratchBytes(_ name: String) -> Int? {
        guard let t = store.tensor(named: name) else { return 0 }
        return store.copiedBytes(of: t)
    }

    public func preparedBytes(group: Int) -> Int? { store.groupSectionBytes(group) }

    public func prepare(group: Int) throws {
        prepared.removeAll()
        for (t, bytes) in try store.readGroupSection(group) { prepared[t.name] = bytes }
    }

    /// The tensor called `name`, in a dtype `FloatDecoding` decodes.
    private func weight(_ name: String) throws -> Store.Tensor {
        guard let t = store.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
        guard FloatDecoding.weightDTypes.contains(t.dtype) else {
            throw RuntimeError.unsupportedDType(tensor: name, dtype: t.dtype, allowed: FloatDecoding.weightDTypes)
        }
        return t
    }

    /// The tensor's bytes: from the prepared group when it is there, else from the store.
    private func bytes(of t: Store.Tensor) throws -> TensorBytes {
        if let held = prepared[t.name] { return held }
        return try store.bytes(of: t)
    }

    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try weight(name)
        guard destination.count == t.elementCount else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: t.elementCount * 4)
        }
        guard let base = destination.baseAddress else { return }
        let bytes = try bytes(of: t)
        try bytes.withUnsafeBytes { raw in
            try FloatDecoding.decode(raw, dtype: t.dtype, count: t.elementCount, into: base, tensor: name)
            // Only a read-only private map of a file (`mayReleasePages`): its pages are read
            // again from the file if touched, where memory's would be lost.
            if releasesPagesAfterReading, bytes.mayReleasePages { advise(raw, .drop) }
        }
    }

    public func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try weight(name)
        guard let first = t.shape.first, let width = t.dtype.byteWidth else { throw RuntimeError.missingTensor(name) }
        let rowLength = first == 0 ? 0 : t.elementCount / first
        guard destination.count == rows.count * rowLength else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: rows.count * rowLength * 4)
        }
        guard rowLength > 0, !rows.isEmpty, let base = destination.baseAddress else { return }
        try bytes(of: t).withUnsafeBytes { raw in
            guard raw.count == t.elementCount * width else {
                throw RuntimeError.wrongByteCount(tensor: name, expected: t.elementCount * width, found: raw.count)
            }
            for (i, r) in rows.enumerated() {
                guard r >= 0 && r < first else { throw RuntimeError.badInput(tensor: name, reason: "row \(r) outside 0 ..< \(first)") }
                let slice = UnsafeRawBufferPointer(rebasing: raw[r * rowLength * width ..< (r + 1) * rowLength * width])
                try FloatDecoding.decode(slice, dtype: t.dtype, count: rowLength, into: base + i * rowLength, tensor: name)
            }
        }
    }
}
