import LatteCore
import LatteSystem

/// Finds, by content, the tensors of a checkpoint that a base checkpoint holds (FORMAT.md,
/// "Base references"): the base's tensors are indexed by dtype, shape and XXH64 of their
/// bytes, and a source tensor is a reference when a base tensor has the same dtype, shape
/// and bytes (compared byte for byte once the hashes agree). Names play no part, so a
/// source renamed by `--mapping` (or a base with other names) needs nothing extra.
///
/// Memory: bytes are read `piece` bytes at a time (a slice of the map for dense tensors, a
/// copy of that piece for strided views), and the pages read are released from the
/// process after each tensor, so the resident set stays near one piece whatever the sizes.
enum BaseMatcher {
    struct Key: Hashable {
        var dtype: DType
        var shape: [Int]
        var hash: UInt64
    }

    struct Shape: Hashable {
        var dtype: DType
        var shape: [Int]
    }

    static let piece = 64 << 20

    /// The references for `source`'s tensors (by index) found in `base`. Empty tensors are
    /// never references (there is nothing to save).
    static func match(_ source: Checkpoint, base: Checkpoint) throws -> [Int: BaseReference] {
        let wanted = Set(source.tensors.filter { $0.byteCount > 0 && !$0.isMeta }.map { Shape(dtype: $0.dtype, shape: $0.shape) })
        var index: [Key: [Int]] = [:]
        for (i, e) in base.tensors.enumerated() where !e.isMeta && wanted.contains(Shape(dtype: e.dtype, shape: e.shape)) {
            let h = try digest(base, e, sha: false).xxh64
            index[Key(dtype: e.dtype, shape: e.shape, hash: h), default: []].append(i)
        }
        let offered = Set(index.keys.map { Shape(dtype: $0.dtype, shape: $0.shape) })
        var out: [Int: BaseReference] = [:]
        for (i, e) in source.tensors.enumerated() where e.byteCount > 0 && !e.isMeta && offered.contains(Shape(dtype: e.dtype, shape: e.shape)) {
            let h = try digest(source, e, sha: false).xxh64
            for b in index[Key(dtype: e.dtype, shape: e.shape, hash: h)] ?? [] where try equal(source, e, base, base.tensors[b]) {
                out[i] = BaseReference(name: base.tensors[b].name, checksum: h, sha256: try digest(source, e, sha: true).sha256)
                break
            }
        }
        return out
    }

    /// The base's files as the manifest records them: name (last path component), size,
    /// SHA-256. Only mapped files: a base in memory has no file to name.
    static func files(of base: Checkpoint) throws -> [BaseFile] {
        try base.files.filter(\.isFileMapped).map { f in
            let h = try Provenance.sha256(path: f.path)
            return BaseFile(name: String(f.path.split(separator: "/").last ?? Substring(f.path)), size: h.size, sha256: h.hex)
        }
    }

    /// XXH64 (and SHA-256 when asked) of a tensor's bytes, read a piece at a time.
    private static func digest(_ c: Checkpoint, _ e: TensorEntry, sha: Bool) throws -> (xxh64: UInt64, sha256: String) {
        var x = XXH64()
        var s = SHA256()
        try pieces(c, e) { b in
            x.update(b)
            if sha { s.update(b) }
        }
        return (x.finalize(), sha ? s.hexDigest() : "")
    }

    /// Whether two tensors of the same byte count hold the same bytes.
    private static func equal(_ a: Checkpoint, _ ea: TensorEntry, _ b: Checkpoint, _ eb: TensorEntry) throws -> Bool {
        guard ea.byteCount == eb.byteCount else { return false }
        var at = 0
        while at < ea.byteCount {
            let r = at ..< min(ea.byteCount, at + piece)
            let same = try read(a, ea, r).withUnsafeBytes { x in try read(b, eb, r).withUnsafeBytes { y in memcmp(x.baseAddress!, y.baseAddress!, r.count) == 0 } }
            guard same else { return false }
            at = r.upperBound
        }
        release(a, ea)
        release(b, eb)
        return true
    }

    private static func pieces(_ c: Checkpoint, _ e: TensorEntry, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        var at = 0
        while at < e.byteCount {
            let r = at ..< min(e.byteCount, at + piece)
            try read(c, e, r).withUnsafeBytes(body)
            at = r.upperBound
        }
        release(c, e)
    }

    private static func read(_ c: Checkpoint, _ e: TensorEntry, _ r: Range<Int>) throws -> TensorBytes {
        do { return try c.bytes(of: e, range: r) } catch { throw LocatedError(path: c.files[e.file].path, error) }
    }

    /// Drops a tensor's pages from the resident set (they stay in the page cache).
    private static func release(_ c: Checkpoint, _ e: TensorEntry) {
        if let f = c.files[e.file] as? MappedFile { f.advise(e.storageOffset, e.storageLength, .drop) }
    }
}
