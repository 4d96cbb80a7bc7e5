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
/// Large tensors are decoded on every core (`ParallelDecoding`). A store with group
/// sections (`.latte`) has a group's section streamed in one pass by the first `read` of a
/// batch after `prepare(group:)`: its chunks are decompressed on every core and each is
/// widened to float32 straight into its tensor's buffer by the thread that decoded it, so
/// no decoded copy of the group is ever held (a tensor whose chunks do not hold whole
/// elements is read whole afterwards).
///
/// Not Sendable: `prepare` records the group to stream, so one model reads a source at a time.
public final class DecodingWeightSource<Store: TensorStore>: WeightSource {
    public let store: Store
    /// Whether to release the file pages of a tensor once it is decoded.
    public var releasesPagesAfterReading: Bool
    /// The group `prepare` named, until its tensors are read.
    private var preparedGroup: Int?

    public init(_ store: Store, releasesPagesAfterReading: Bool = true) {
        self.store = store
        self.releasesPagesAfterReading = releasesPagesAfterReading
    }

    public func shape(_ name: String) -> [Int]? { store.tensor(named: name)?.shape }

    public func storedBytes(_ name: String) -> Int? { store.tensor(named: name)?.byteCount }

    /// A compressed tensor is streamed (its stream's buffers), or decoded whole into a copy
    /// when its chunks do not hold whole elements: the larger of the two.
    public func readScratchBytes(_ name: String) -> Int? {
        guard let t = store.tensor(named: name) else { return 0 }
        let copy = store.copiedBytes(of: t)
        guard let copy, copy != 0 else { return copy }
        return store.streamBytes([t]).map { max($0, copy) }
    }

    public func readScratchBytes(_ names: [String]) -> Int? {
        let tensors = names.compactMap { store.tensor(named: $0) }.filter { store.copiedBytes(of: $0) != 0 }
        let each = names.map { readScratchBytes($0) }
        guard !each.contains(where: { $0 == nil }) else { return nil }
        return store.streamBytes(tensors).map { max($0, each.map { $0! }.max() ?? 0) }
    }

    public func preparedBytes(group: Int) -> Int? { store.groupStreamBytes(group) }

    public func prepare(group: Int) throws { preparedGroup = group }

    public func finish(group: Int) { preparedGroup = nil }

    public func read(_ reads: [WeightRead]) throws {
        var rest = reads
        if let g = preparedGroup {
            preparedGroup = nil
            rest = try stream(reads) { sink in try store.streamGroupSection(g) { name, offset, bytes in try sink(name, offset, bytes) } }
        }
        // Compressed tensors outside a group (a context layer): streamed together, each chunk
        // widened straight into its buffer, rather than decoded whole into a copy first.
        let compressed = rest.filter { r in store.tensor(named: r.name).map { store.copiedBytes(of: $0) != 0 } ?? false }
        if !compressed.isEmpty {
            let tensors = try compressed.map { try weight($0.name) }
            let names = tensors.map(\.name)
            let left = try stream(compressed) { sink in try store.stream(tensors: tensors) { i, offset, bytes in try sink(names[i], offset, bytes) } }
            let done = Set(compressed.map(\.name)).subtracting(left.map(\.name))
            rest = rest.filter { !done.contains($0.name) }
        }
        for r in rest { try read(r.name, into: r.destination) }
    }

    /// Streams the tensors of `reads` through `run` (which calls the store's stream with the
    /// sink it is given) into their destinations; returns the reads it did not fill
    /// completely (all of them when the store cannot stream them).
    private func stream(_ reads: [WeightRead],
                        _ run: (@escaping @Sendable (String, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool) throws -> [WeightRead] {
        var byName: [String: StreamTargets.Target] = [:]
        for r in reads {
            let t = try weight(r.name)
            guard r.destination.count == t.elementCount else {
                throw RuntimeError.wrongByteCount(tensor: r.name, expected: r.destination.count * 4, found: t.elementCount * 4)
            }
            guard let width = t.dtype.byteWidth, let base = r.destination.baseAddress, byName[r.name] == nil else { return reads }
            byName[r.name] = .init(dtype: t.dtype, width: width, count: t.elementCount, destination: base)
        }
        let targets = StreamTargets(byName)
        let written = HeapMutex([String: Int]())
        let streamed = try run { name, offset, bytes in
            let n = try targets.write(name, offset, bytes)
            if n > 0 { written.withLock { $0[name, default: 0] += n } }
        }
        guard streamed else { return reads }
        let done = written.withLock { $0 }
        return reads.filter { r in byName[r.name].map { done[r.name] != $0.count * $0.width } ?? true }
    }

    /// The tensor called `name`, in a dtype `FloatDecoding` decodes.
    private func weight(_ name: String) throws -> Store.Tensor {
        guard let t = store.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
        guard FloatDecoding.weightDTypes.contains(t.dtype) else {
            throw RuntimeError.unsupportedDType(tensor: name, dtype: t.dtype, allowed: FloatDecoding.weightDTypes)
        }
        return t
    }

    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws {
        let t = try weight(name)
        guard destination.count == t.elementCount else {
            throw RuntimeError.wrongByteCount(tensor: name, expected: destination.count * 4, found: t.elementCount * 4)
        }
        guard let base = destination.baseAddress else { return }
        let bytes = try store.bytes(of: t)
        try bytes.withUnsafeBytes { raw in
            try ParallelDecoding.decode(raw, dtype: t.dtype, count: t.elementCount, into: base, tensor: name,
                                        mapped: bytes.mayReleasePages)
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
        for r in rows where r < 0 || r >= first {
            throw RuntimeError.badInput(tensor: name, reason: "row \(r) outside 0 ..< \(first)")
        }
        // A compressed tensor is streamed, each chunk's rows widened into place, instead of
        // decoded whole into a copy (the token embedding: hundreds of MB for a few rows).
        if store.copiedBytes(of: t) != 0 {
            let targets = RowTargets(name, rows: rows, rowLength: rowLength, dtype: t.dtype, width: width, destination: base)
            if try store.stream(tensors: [t], sink: { _, offset, bytes in try targets.write(offset, bytes) }), targets.complete {
                return
            }
        }
        try store.bytes(of: t).withUnsafeBytes { raw in
            guard raw.count == t.elementCount * width else {
                throw RuntimeError.wrongByteCount(tensor: name, expected: t.elementCount * width, found: raw.count)
            }
            for (i, r) in rows.enumerated() {
                let slice = UnsafeRawBufferPointer(rebasing: raw[r * rowLength * width ..< (r + 1) * rowLength * width])
                try FloatDecoding.decode(slice, dtype: t.dtype, count: rowLength, into: base + i * rowLength, tensor: name)
            }
        }
    }
}
