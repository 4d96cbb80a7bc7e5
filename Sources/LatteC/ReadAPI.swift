import LatteCore
import LatteFormat
import LatteSystem

// The read half of include/latte.h. Every function checks its pointers and indices and
// returns a status; nothing here traps on input a caller passes.

/// `LATTE_ABI_VERSION` of this library.
@_cdecl("latte_abi_version")
public func latte_abi_version() -> UInt32 { 1 }

/// nonisolated(unsafe): never written after it is made, so every thread may read it.
nonisolated(unsafe) private let versionString: UnsafePointer<CChar> = UnsafePointer(strdup(latteVersion)!)

/// The latte version string, e.g. "0.1.0".
@_cdecl("latte_version")
public func latte_version() -> UnsafePointer<CChar> { versionString }

/// Opens and validates `path`; `*out` is the handle on success.
@_cdecl("latte_open")
public func latte_open(_ path: UnsafePointer<CChar>?, _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded(openFailure) {
        guard let path, let out else { throw ABIError.argument("null argument to latte_open") }
        out.pointee = nil
        let h = FileHandle(try LatteFile(path: String(cString: path)))
        out.pointee = OpaquePointer(Unmanaged.passRetained(h).toOpaque())
    }
}

/// Opens `path` with the base checkpoint at `basePath` (NULL: none, as `latte_open`): the
/// tensors stored in the base are read from it, their XXH64 checked.
@_cdecl("latte_open_with_base")
public func latte_open_with_base(_ path: UnsafePointer<CChar>?, _ basePath: UnsafePointer<CChar>?,
                                 _ out: UnsafeMutablePointer<OpaquePointer?>?) -> Int32 {
    guarded(openFailure) {
        guard let path, let out else { throw ABIError.argument("null argument to latte_open_with_base") }
        out.pointee = nil
        let h = FileHandle(try LatteFile(path: String(cString: path), basePath: basePath.map { String(cString: $0) }))
        out.pointee = OpaquePointer(Unmanaged.passRetained(h).toOpaque())
    }
}

/// Releases the handle (NULL: nothing). No call on it may be running or start afterwards.
@_cdecl("latte_close")
public func latte_close(_ f: OpaquePointer?) {
    guard let f else { return }
    Unmanaged<FileHandle>.fromOpaque(UnsafeRawPointer(f)).release()
}

@_cdecl("latte_tensor_count")
public func latte_tensor_count(_ f: OpaquePointer?) -> Int64 {
    (try? handle(f)).map { Int64($0.file.tensors.count) } ?? -1
}

/// What the manifest says of tensor `index`; any out pointer may be NULL. Strings and the
/// shape stay valid until `latte_close`. group/layer: -1 when the tensor has none.
@_cdecl("latte_tensor_info")
public func latte_tensor_info(_ f: OpaquePointer?, _ index: Int64, _ name: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                              _ dtype: UnsafeMutablePointer<UnsafePointer<CChar>?>?, _ ndim: UnsafeMutablePointer<Int32>?,
                              _ shape: UnsafeMutablePointer<UnsafePointer<Int64>?>?, _ nbytes: UnsafeMutablePointer<Int64>?,
                              _ section: UnsafeMutablePointer<Int32>?, _ group: UnsafeMutablePointer<Int32>?,
                              _ layer: UnsafeMutablePointer<Int32>?, _ role: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guarded({ _ in .argument }) {
        let h = try handle(f)
        let t = try h.tensor(index)
        let i = Int(index)
        name?.pointee = UnsafePointer(h.names[i])
        dtype?.pointee = UnsafePointer(h.dtypes[i])
        ndim?.pointee = Int32(t.shape.count)
        shape?.pointee = UnsafePointer(h.shapes[i])
        nbytes?.pointee = Int64(t.nbytes)
        section?.pointee = Int32(t.section)
        group?.pointee = Int32(t.group ?? -1)
        layer?.pointee = Int32(t.layer ?? -1)
        role?.pointee = h.roles[i].map { UnsafePointer($0) }
    }
}

/// The index of the tensor called `name`; LATTE_E_NOT_FOUND when there is none.
@_cdecl("latte_find_tensor")
public func latte_find_tensor(_ f: OpaquePointer?, _ name: UnsafePointer<CChar>?, _ index: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded({ _ in .argument }) {
        let h = try handle(f)
        guard let name, let index else { throw ABIError.argument("null argument to latte_find_tensor") }
        let s = String(cString: name)
        guard let i = h.file.manifest.tensors.firstIndex(where: { $0.name == s }) else {
            throw ABIError(status: .notFound, message: LocatedError(path: h.file.path, LatteFileError.noSuchTensor(s)).description)
        }
        index.pointee = Int64(i)
    }
}

@_cdecl("latte_metadata_count")
public func latte_metadata_count(_ f: OpaquePointer?) -> Int64 {
    (try? handle(f)).map { Int64($0.metadata.count) } ?? -1
}

/// Metadata entry `index` (file order); the strings stay valid until `latte_close`.
@_cdecl("latte_metadata_entry")
public func latte_metadata_entry(_ f: OpaquePointer?, _ index: Int64, _ key: UnsafeMutablePointer<UnsafePointer<CChar>?>?,
                                 _ value: UnsafeMutablePointer<UnsafePointer<CChar>?>?) -> Int32 {
    guarded({ _ in .argument }) {
        let h = try handle(f)
        guard index >= 0, index < h.metadata.count else { throw ABIError.argument("metadata index \(index) outside 0..<\(h.metadata.count)") }
        key?.pointee = UnsafePointer(h.metadata[Int(index)].key)
        value?.pointee = UnsafePointer(h.metadata[Int(index)].value)
    }
}

/// The manifest's provenance document as JSON text (the plan's groups and timesteps are in
/// `plan.groups`); NULL for a null handle. Valid until `latte_close`.
@_cdecl("latte_provenance_json")
public func latte_provenance_json(_ f: OpaquePointer?) -> UnsafePointer<CChar>? {
    (try? handle(f)).map { UnsafePointer($0.provenance) }
}

@_cdecl("latte_group_count")
public func latte_group_count(_ f: OpaquePointer?) -> Int64 {
    (try? handle(f)).map { Int64($0.groups.count) } ?? -1
}

/// The `index`-th expert group present (ascending) and how many tensors its section holds.
@_cdecl("latte_group_info")
public func latte_group_info(_ f: OpaquePointer?, _ index: Int64, _ group: UnsafeMutablePointer<Int32>?,
                             _ count: UnsafeMutablePointer<Int64>?) -> Int32 {
    guarded({ _ in .argument }) {
        let h = try handle(f)
        guard index >= 0, index < h.groups.count else { throw ABIError.argument("group index \(index) outside 0..<\(h.groups.count)") }
        group?.pointee = Int32(h.groups[Int(index)].group)
        count?.pointee = Int64(h.groups[Int(index)].members.count)
    }
}

/// The tensor indices of group `group`'s section into `indices` (room for `capacity`; the
/// count is `latte_group_info`'s). LATTE_E_NOT_FOUND when the file has no such group.
@_cdecl("latte_group_tensors")
public func latte_group_tensors(_ f: OpaquePointer?, _ group: Int32, _ indices: UnsafeMutablePointer<Int64>?, _ capacity: Int64) -> Int32 {
    guarded({ _ in .argument }) {
        let h = try handle(f)
        guard let g = h.groups.first(where: { $0.group == Int(group) }) else {
            throw ABIError(status: .notFound, message: LocatedError(path: h.file.path, LatteFileError.noSuchGroup(Int(group))).description)
        }
        guard capacity >= g.members.count, g.members.isEmpty || indices != nil else {
            throw ABIError.argument("group \(group) has \(g.members.count) tensors, room for \(capacity)")
        }
        for (k, i) in g.members.enumerated() { indices![k] = Int64(i) }
    }
}
