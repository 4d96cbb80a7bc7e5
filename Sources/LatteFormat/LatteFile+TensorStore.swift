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
        tensor.chunks.count == 1 && tensor.chunks[0].codec == .raw ? 0 : tensor.nbytes
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
}
