import LatteCore
import LatteReaders
import LatteSystem

/// Why a tensor stored in the base could not be read.
public enum BaseReadError: Error, Equatable, CustomStringConvertible {
    /// No base was given; `base` describes the one the file was written against.
    case baseNeeded(tensor: String, base: String)
    case baseLacksTensor(tensor: String, baseName: String, baseFile: String)
    case baseTensorShape(tensor: String, baseName: String, expected: String, found: String)
    case baseTensorDiffers(tensor: String, baseName: String, expected: UInt64, found: UInt64)
    case sha256Mismatch(tensor: String, baseName: String, expected: String, found: String)

    public var description: String { description(howToGiveTheBase: "pass --base") }

    /// The message, with `howToGiveTheBase` (the CLI's "pass --base") saying how a caller of
    /// this front end gives the base: the C library and the Python package name their own.
    public func description(howToGiveTheBase: String) -> String {
        switch self {
        case let .baseNeeded(t, base): "tensor '\(t)' is stored in the base; \(howToGiveTheBase) (the base is \(base))"
        case let .baseLacksTensor(t, n, f): "tensor '\(t)' is stored in the base as '\(n)', which the base \(f) does not have"
        case let .baseTensorShape(t, n, e, f): "tensor '\(t)' is stored in the base as '\(n)', \(e); the base's is \(f)"
        case let .baseTensorDiffers(t, n, e, f):
            "tensor '\(t)' is stored in the base as '\(n)', and the base's differs: xxh64 expected \(hex64(e)), found \(hex64(f))"
        case let .sha256Mismatch(t, n, e, f):
            "tensor '\(t)' is stored in the base as '\(n)', and the base's differs: sha256 expected \(e), found \(f)"
        }
    }
}

extension LatteFile {
    /// Opens `path` with the base checkpoint at `basePath` (any checkpoint latte reads), or
    /// without a base when nil (the C library's `latte_open_with_base`).
    public convenience init(path: String, basePath: String?) throws {
        try self.init(path: path, base: try basePath.map { try CheckpointReader.open(path: $0) })
    }

    /// Whether some tensor is stored in the base.
    public var hasBaseReferences: Bool { manifest.base != nil && manifest.tensors.contains { $0.base != nil } }

    /// Throws the "pass --base" error when the file has references and no base was given:
    /// commands check this once, before any work, so the user sees one line.
    public func requireBaseIfReferenced() throws {
        guard base == nil, let t = manifest.tensors.first(where: { $0.base != nil }) else { return }
        throw LocatedError(path: path, BaseReadError.baseNeeded(tensor: t.name, base: BaseFile.describe(manifest.base ?? [])))
    }

    /// The base's bytes for reference `ref` (of the tensor `name`), checked: present in the
    /// base, the same dtype and shape as the tensor, and hashing to the reference's XXH64
    /// (hashed the first time only). Zero copy when the base holds the tensor densely.
    func baseBytes(_ ref: BaseReference, for name: String) throws -> TensorBytes {
        func fail(_ e: BaseReadError) -> LocatedError { LocatedError(path: path, e) }
        guard let base else { throw fail(.baseNeeded(tensor: name, base: BaseFile.describe(manifest.base ?? []))) }
        guard let e = base.tensor(named: ref.name) else {
            throw fail(.baseLacksTensor(tensor: name, baseName: ref.name, baseFile: base.files.first?.path ?? "checkpoint"))
        }
        // A reference's dtype and shape are its tensor's (the manifest entry's).
        if let t = tensor(named: name), e.dtype != t.dtype || e.shape != t.shape {
            throw fail(.baseTensorShape(tensor: name, baseName: ref.name, expected: "\(t.dtype.name) \(t.shape)", found: "\(e.dtype.name) \(e.shape)"))
        }
        let bytes: TensorBytes
        do { bytes = try base.bytes(of: e) } catch { throw LocatedError(path: base.files[e.file].path, error) }
        guard !checkedBase.withLock({ $0.contains(ref) }) else { return bytes }
        let found = bytes.withUnsafeBytes { XXH64.hash($0) }
        guard found == ref.checksum else {
            throw fail(.baseTensorDiffers(tensor: name, baseName: ref.name, expected: ref.checksum, found: found))
        }
        checkedBase.withLock { _ = $0.insert(ref) }
        return bytes
    }

    /// Checks every reference against the base (present, same dtype and shape, same XXH64)
    /// and returns how many there are; throws the first mismatch.
    public func checkBaseReferences() throws -> Int {
        try requireBaseIfReferenced()
        var n = 0
        for t in manifest.tensors {
            guard let ref = t.base else { continue }
            _ = try baseBytes(ref, for: t.name)
            if let base, let e = base.tensor(named: ref.name) { base.releasePages(of: e) }
            n += 1
        }
        return n
    }

    /// Per tensor, its twin's bytes when the twin is stored in the base and some chunk is a
    /// delta (read and checked once per call), else nil.
    func twinsInBase(_ tensors: [LatteTensor]) throws -> [TensorBytes?] {
        try tensors.map { t in
            guard let ref = t.twinBase, t.chunks.contains(where: \.xorTwin) else { return nil }
            return try baseBytes(ref, for: t.twin ?? t.name)
        }
    }

    /// `stream` when some tensors are stored in the base: runs of stored tensors go through
    /// the decoding pipeline, each referenced tensor is read from the base in pieces of at
    /// most `chunk_size` bytes. Offsets given to `sink` stay those of the whole list.
    func streamWithReferences(_ tensors: [LatteTensor], pairTwins: Bool, sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)?,
                              body: (LatteTensor, UnsafeRawBufferPointer) throws -> Void) throws {
        var i = 0, at = 0
        while i < tensors.count {
            if let ref = tensors[i].base {
                try streamReferenced(tensors[i], ref, at: at, sink: sink, body: body)
                at += tensors[i].nbytes
                i += 1
                continue
            }
            var j = i, run = 0
            while j < tensors.count, tensors[j].base == nil { run += tensors[j].nbytes; j += 1 }
            let start = at
            let shifted = sink.map { s in { @Sendable (offset: Int, bytes: UnsafeRawBufferPointer) throws in try s(start + offset, bytes) } }
            try streamStored(Array(tensors[i ..< j]), pairTwins: pairTwins, sink: shifted, body: body)
            at += run
            i = j
        }
    }

    private func streamReferenced(_ t: LatteTensor, _ ref: BaseReference, at: Int, sink: (@Sendable (Int, UnsafeRawBufferPointer) throws -> Void)?,
                                  body: (LatteTensor, UnsafeRawBufferPointer) throws -> Void) throws {
        let bytes = try baseBytes(ref, for: t.name)
        try bytes.withUnsafeBytes { b in
            if b.isEmpty { return try body(t, b) }
            var offset = 0
            while offset < b.count {
                let piece = UnsafeRawBufferPointer(rebasing: b[offset ..< min(b.count, offset + manifest.chunkSize)])
                try sink?(at + offset, piece)
                try body(t, piece)
                offset += piece.count
            }
        }
        // The base's pages go from our resident set once read (they stay in the page cache).
        if let base, let e = base.tensor(named: ref.name) { base.releasePages(of: e) }
    }
}
