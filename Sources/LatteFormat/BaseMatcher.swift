import Dispatch
import LatteCore
import LatteSystem

/// Finds, by content, the tensors of a checkpoint that a base checkpoint holds (FORMAT.md,
/// "Base references"): the base's tensors are indexed by dtype, shape and XXH64 of their
/// bytes, and a source tensor is a reference when a base tensor has the same dtype, shape
/// and bytes (compared byte for byte once the hashes agree). Names play no part, so a
/// source renamed by `--mapping` (or a base with other names) needs nothing extra.
///
/// Memory: bytes are read `piece` bytes at a time per thread (a slice of the map for dense
/// tensors, a copy of that piece for strided views), and the pages read are released from
/// the process after each tensor, so the resident set stays near one piece per thread
/// whatever the sizes.
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

    /// The references for `source`'s tensors (by index) found in `base`, hashing on
    /// `threads` threads (a tensor per thread at a time). Empty tensors are never
    /// references (there is nothing to save).
    static func match(_ source: Checkpoint, base: Checkpoint, threads: Int) throws -> [Int: BaseReference] {
        func shape(_ e: TensorEntry) -> Shape { Shape(dtype: e.dtype, shape: e.shape) }
        let wanted = Set(source.tensors.filter { $0.byteCount > 0 && !$0.isMeta }.map(shape))
        let inBase = base.tensors.indices.filter { !base.tensors[$0].isMeta && wanted.contains(shape(base.tensors[$0])) }
        let baseHashes = try parallelMap(inBase.count, threads: threads) { try digest(base, base.tensors[inBase[$0]]) }
        var index: [Key: [Int]] = [:]
        for (k, i) in inBase.enumerated() {
            let e = base.tensors[i]
            index[Key(dtype: e.dtype, shape: e.shape, hash: baseHashes[k]), default: []].append(i)
        }
        let offered = Set(index.keys.map { Shape(dtype: $0.dtype, shape: $0.shape) })
        let candidates = source.tensors.indices.filter {
            let e = source.tensors[$0]
            return e.byteCount > 0 && !e.isMeta && offered.contains(shape(e))
        }
        // Per candidate: its hash, then (when a base tensor has the key) the bytes compared
        // and the SHA-256 taken in the same pass.
        let found = try parallelMap(candidates.count, threads: threads) { k -> BaseReference? in
            let e = source.tensors[candidates[k]]
            let h = try digest(source, e)
            for b in index[Key(dtype: e.dtype, shape: e.shape, hash: h)] ?? [] {
                if let sha = try sha256IfEqual(source, e, base, base.tensors[b]) {
                    return BaseReference(name: base.tensors[b].name, checksum: h, sha256: sha)
                }
            }
            return nil
        }
        // One reference per base tensor (the reader's rule): a second source tensor with the
        // same bytes (tied weights stored twice) is stored in the file.
        var out: [Int: BaseReference] = [:]
        var used = Set<String>()
        for (k, i) in candidates.enumerated() { if let ref = found[k], used.insert(ref.name).inserted { out[i] = ref } }
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

    /// XXH64 of a tensor's bytes, read a piece at a time.
    private static func digest(_ c: Checkpoint, _ e: TensorEntry) throws -> UInt64 {
        var x = XXH64()
        var at = 0
        while at < e.byteCount {
            let r = at ..< min(e.byteCount, at + piece)
            try read(c, e, r).withUnsafeBytes { x.update($0) }
            at = r.upperBound
        }
        c.releasePages(of: e)
        return x.finalize()
    }

    /// The SHA-256 of `ea`'s bytes when `eb` holds the same bytes, else nil (one pass over both).
    private static func sha256IfEqual(_ a: Checkpoint, _ ea: TensorEntry, _ b: Checkpoint, _ eb: TensorEntry) throws -> String? {
        guard ea.byteCount == eb.byteCount else { return nil }
        defer { a.releasePages(of: ea); b.releasePages(of: eb) }
        var sha = SHA256()
        var at = 0
        while at < ea.byteCount {
            let r = at ..< min(ea.byteCount, at + piece)
            let same = try read(a, ea, r).withUnsafeBytes { x in
                try read(b, eb, r).withUnsafeBytes { y in
                    sha.update(x)
                    return memcmp(x.baseAddress!, y.baseAddress!, r.count) == 0
                }
            }
            guard same else { return nil }
            at = r.upperBound
        }
        return sha.hexDigest()
    }

    private static func read(_ c: Checkpoint, _ e: TensorEntry, _ r: Range<Int>) throws -> TensorBytes {
        do { return try c.bytes(of: e, range: r) } catch { throw LocatedError(path: c.files[e.file].path, error) }
    }

    /// `body(i)` for i in 0 ..< n on up to `threads` threads, the results in order of i; the
    /// first error (by i) is rethrown once every worker has stopped.
    private static func parallelMap<T>(_ n: Int, threads: Int, _ body: (Int) throws -> T) throws -> [T] {
        let results = Slots<Result<T, any Error>>(n)
        let next = HeapMutex(0)
        withoutActuallyEscaping(body) { body in
            // nonisolated(unsafe): the workers call `body` at once; it only reads the
            // checkpoints (immutable) and their maps, and writes its own result slot.
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: max(1, min(threads, n))) { _ in
                while true {
                    let i = next.withLock { v -> Int in
                        defer { v += 1 }
                        return v
                    }
                    guard i < n else { return }
                    results[i] = Result { try body(i) }
                }
            }
        }
        return try (0 ..< n).map { try results[$0]!.get() }
    }
}

