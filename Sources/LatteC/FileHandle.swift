import LatteCore
import LatteFormat
import LatteSystem

/// What a `latte_file *` points to: the open file and, made once at open, every string and
/// shape the ABI hands out, so the pointers stay valid until `latte_close` and nothing is
/// allocated per query. Immutable after init: any number of threads may use one handle.
final class FileHandle {
    let file: LatteFile
    /// One C string per tensor name, dtype, role (nil: none), metadata key and value.
    let names: [UnsafeMutablePointer<CChar>]
    let dtypes: [UnsafeMutablePointer<CChar>]
    let roles: [UnsafeMutablePointer<CChar>?]
    let shapes: [UnsafeMutablePointer<Int64>]
    let metadata: [(key: UnsafeMutablePointer<CChar>, value: UnsafeMutablePointer<CChar>)]
    let provenance: UnsafeMutablePointer<CChar>
    /// The expert groups present, ascending, and each one's tensor indices in file order.
    let groups: [(group: Int, members: [Int])]

    init(_ file: LatteFile) {
        self.file = file
        let tensors = file.tensors
        names = tensors.map { strdup($0.name)! }
        dtypes = tensors.map { strdup($0.dtype.name)! }
        roles = tensors.map { t in t.role.map { strdup($0)! } }
        shapes = tensors.map { t in
            let p = UnsafeMutablePointer<Int64>.allocate(capacity: max(t.shape.count, 1))
            for (i, d) in t.shape.enumerated() { p[i] = Int64(d) }
            return p
        }
        metadata = file.manifest.metadata.map { (strdup($0.0)!, strdup($0.1)!) }
        provenance = strdup(file.manifest.provenance.serialized())!
        var members: [Int: [Int]] = [:]
        let sectionGroup = file.groupSections.reduce(into: [Int: Int]()) { $0[$1.value] = $1.key }
        for (i, t) in tensors.enumerated() { if let g = sectionGroup[t.section] { members[g, default: []].append(i) } }
        groups = file.groupSections.keys.sorted().map { ($0, members[$0] ?? []) }
    }

    deinit {
        for p in names + dtypes { free(p) }
        for p in roles { free(p) }
        for p in shapes { p.deallocate() }
        for m in metadata { free(m.key); free(m.value) }
        free(provenance)
    }

    /// The tensor at `index`, or an argument error.
    func tensor(_ index: Int64) throws(ABIError) -> LatteTensor {
        guard index >= 0, index < file.tensors.count else {
            throw .argument("tensor index \(index) outside 0..<\(file.tensors.count)")
        }
        return file.tensors[Int(index)]
    }
}

/// The handle behind a `latte_file *` (retained by `latte_open`, released by `latte_close`).
func handle(_ p: OpaquePointer?) throws(ABIError) -> FileHandle {
    guard let p else { throw .argument("null latte_file") }
    return Unmanaged<FileHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
}
