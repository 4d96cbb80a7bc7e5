import LatteCore

extension LatteTensor: StoredTensor {
    /// Elements of the shape (the manifest parser bounds it).
    public var elementCount: Int { LatteCore.elementCount(of: shape) ?? 0 }
    public var byteCount: Int { nbytes }
}

/// A `.latte` file as a tensor store: bytes come decompressed and checksum-verified. A
/// tensor stored as one raw chunk is handed out from the map; any other is decoded into a
/// copy. Each expert group's section is read in one pass by `readGroupSection`.
extension LatteFile: TensorStore {
    public func bytes(of tensor: LatteTensor) throws -> TensorBytes {
        if let ref = tensor.base { return try baseBytes(ref, for: tensor.name) }
        if let mapped = try mappedBytes(of: tensor) { return TensorBytes(slice: mapped, keptAliveBy: self) }
        return TensorBytes(owned: try read(tensor))
    }

    /// The checksum covers the whole tensor, so a compressed tensor is decoded whole and
    /// only `range` is kept.
    public func bytes(of tensor: LatteTensor, range: Range<Int>) throws -> TensorBytes {
        guard range.lowerBound >= 0, range.upperBound <= tensor.nbytes else {
            throw TensorReadError.rangeOutsideTensor(tensor: tensor.name, lower: range.lowerBound, upper: range.upperBound,
                                                     byteCount: tensor.nbytes)
        }
        if let mapped = try mappedBytes(of: tensor) {
            return TensorBytes(slice: UnsafeRawBufferPointer(rebasing: mapped[range]), keptAliveBy: self)
        }
        if let ref = tensor.base {
            let whole = try baseBytes(ref, for: tensor.name)
            return whole.isZeroCopy ? whole.withUnsafeBytes { TensorBytes(slice: UnsafeRawBufferPointer(rebasing: $0[range]), keptAliveBy: WholeBytes(whole)) }
                : TensorBytes(owned: whole.withUnsafeBytes { Array($0[range]) })
        }
        var out: [UInt8] = []
        out.reserveCapacity(range.count)
        var at = 0
        try stream([tensor]) { _, chunk in
            let lower = max(range.lowerBound, at), upper = min(range.upperBound, at + chunk.count)
            if lower < upper { out.append(contentsOf: chunk[lower - at ..< upper - at]) }
            at += chunk.count
        }
        return TensorBytes(owned: out)
    }

    public func copiedBytes(of tensor: LatteTensor) -> Int? {
        if let ref = tensor.base { return base.flatMap { b in b.tensor(named: ref.name).flatMap { b.copiedBytes(of: $0) } } ?? tensor.nbytes }
        return tensor.chunks.count == 1 && tensor.chunks[0].codec == .raw ? 0 : tensor.nbytes
    }

    public func readGroupSection(_ group: Int) throws -> [(tensor: LatteTensor, bytes: TensorBytes)] {
        try readGroup(group).map { ($0.tensor, TensorBytes(owned: $0.bytes)) }
    }

    /// The decoded bytes of every tensor of the group's section, and the largest once more
    /// for the array being grown while its chunks are appended; nil on overflow.
    public func groupSectionBytes(_ group: Int) -> Int? {
        guard let section = manifest.sections.firstIndex(where: { $0.kind == .group && $0.group == group }) else { return 0 }
        let members = manifest.tensors.filter { $0.section == section }.map(\.nbytes)
        var total: Int? = members.max() ?? 0
        for n in members {
            guard let t = total else { break }
            let (sum, overflow) = t.addingReportingOverflow(n)
            total = overflow ? nil : sum
        }
        return total
    }

    /// `stream` over the section's tensors, `sink` getting each chunk at its offset in its
    /// tensor (chunks never span tensors: each tensor has its own).
    public func streamGroupSection(_ group: Int, sink: @escaping @Sendable (String, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        guard let section = groupSections[group] else { return false }
        let members = manifest.tensors.filter { $0.section == section }
        let names = members.map(\.name)
        return try stream(tensors: members) { i, offset, bytes in try sink(names[i], offset, bytes) }
    }

    /// `stream` over `tensors`, `sink` getting each chunk with its tensor's index and its
    /// offset in that tensor.
    public func stream(tensors: [LatteTensor], sink: @escaping @Sendable (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        var starts: [Int] = []
        var at = 0
        for t in tensors {
            starts.append(at)
            at += t.nbytes   // a validated manifest's sizes sum within the file's size (a tensor is listed once)
        }
        let begins = starts
        try stream(tensors, sink: { offset, bytes in
            // The last tensor starting at or before `offset` holds the chunk (a tensor after
            // it starts past its bytes, so cannot be an empty one in between).
            var lo = 0, hi = begins.count - 1
            while lo < hi {
                let mid = (lo + hi + 1) / 2
                if begins[mid] <= offset { lo = mid } else { hi = mid - 1 }
            }
            try sink(lo, offset - begins[lo], bytes)
        }, body: { _, _ in })
        return true
    }

    /// `stream`'s buffers for the section (`DecodePlan`'s bound).
    public func groupStreamBytes(_ group: Int) -> Int? {
        guard let section = groupSections[group] else { return 0 }
        return streamBytes(manifest.tensors.filter { $0.section == section })
    }

    /// `stream`'s buffers for `tensors`, from the plan `stream` makes of them: two batch slabs
    /// and one chunk of scratch per thread (two when a twin's chunk is decoded on its own). A
    /// validated manifest's chunks are at most 64 MiB, so none of these products comes near
    /// overflow.
    public func streamBytes(_ tensors: [LatteTensor]) -> Int? {
        let plan = DecodePlan(tensors, requestedThreads: threads)
        guard plan.maxRaw > 0 else { return 0 }
        return 2 * plan.slabBytes + plan.threads * plan.maxRaw * (plan.hasDeltas ? 2 : 1)
    }
}

/// Keeps a zero-copy `TensorBytes` (and so its region) alive under a slice of it.
private final class WholeBytes: Sendable {
    let bytes: TensorBytes
    init(_ bytes: TensorBytes) { self.bytes = bytes }
}
