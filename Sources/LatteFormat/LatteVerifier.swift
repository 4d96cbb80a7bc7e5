import LatteCore

/// `latte verify`'s weight checks: every tensor's checksum, and with a source checkpoint,
/// byte equality with it.
public enum LatteVerifier {
    /// One problem found.
    public struct Failure: Sendable, Equatable, CustomStringConvertible {
        public var tensor: String?
        public var message: String
        public var description: String { message }
    }

    /// What verification found.
    public struct Report: Sendable {
        public var tensors = 0
        public var bytes = 0
        public var failures: [Failure] = []
        public var ok: Bool { failures.isEmpty }

        public var json: JSONValue {
            .object([
                ("ok", .bool(ok)), ("tensors", .int(Int64(tensors))), ("bytes", .int(Int64(bytes))),
                ("failures", .array(failures.map { f in
                    .object([("tensor", f.tensor.map { .string($0) } ?? .null), ("message", .string(f.message))])
                })),
            ])
        }
    }

    /// Verifies every tensor (and embedded file) of `latte` (a tensor stored in the base: its
    /// XXH64 and SHA-256 against the reference); with `source`, compares each
    /// tensor with the source's bytes and checks both hold the same tensors. `progress`
    /// counts the tensor bytes checked, once per chunk and once per tensor.
    public static func verify(_ latte: LatteFile, source: Checkpoint? = nil, progress: ProgressHandler? = nil) -> Report {
        var report = Report()
        let total = latte.manifest.tensors.reduce(0) { $0 + $1.nbytes }
        for t in latte.manifest.tensors {
            let before = report.bytes
            // A failed tensor counts as done too, so the count ends at the total whatever is found.
            defer { progress?(before + t.nbytes, total) }
            report.tensors += 1
            report.bytes += t.nbytes
            // The source tensor, read a chunk at a time beside the stored one: a strided view
            // is then copied a chunk at a time, never whole.
            var src: (Checkpoint, TensorEntry)? = nil
            if let source {
                guard let e = source.tensor(named: t.name) else {
                    report.failures.append(Failure(tensor: t.name, message: "\(latte.path): tensor '\(t.name)': not in the source checkpoint"))
                    continue
                }
                guard e.dtype == t.dtype, e.shape == t.shape else {
                    report.failures.append(Failure(tensor: t.name, message: "\(latte.path): tensor '\(t.name)': \(t.dtype.name) \(t.shape) here, \(e.dtype.name) \(e.shape) in the source"))
                    continue
                }
                // A tensor without bytes (meta) is reported before its stored bytes are decoded.
                do { _ = try source.bytes(of: e, range: 0 ..< 0) } catch {
                    report.failures.append(Failure(tensor: t.name, message: String(describing: error)))
                    continue
                }
                src = (source, e)
            }
            do {
                var at = 0
                var mismatch: Int? = nil
                // A tensor stored in the base: its SHA-256 too (the reads check its XXH64).
                var sha = t.base.map { _ in SHA256() }
                try latte.stream([t]) { _, chunk in
                    sha?.update(chunk)
                    if let (source, e) = src, mismatch == nil {
                        try source.bytes(of: e, range: at ..< at + chunk.count).withUnsafeBytes { other in
                            if !other.elementsEqual(chunk) {
                                mismatch = at + zip(other, chunk).prefix { $0 == $1 }.count
                            }
                        }
                    }
                    at += chunk.count
                    progress?(before + at, total)
                }
                if let ref = t.base, let found = sha?.hexDigest(), found != ref.sha256 {
                    let e = BaseReadError.sha256Mismatch(tensor: t.name, baseName: ref.name, expected: ref.sha256, found: found)
                    report.failures.append(Failure(tensor: t.name, message: String(describing: LocatedError(path: latte.path, e))))
                }
                if let m = mismatch {
                    report.failures.append(Failure(tensor: t.name, message: "\(latte.path): tensor '\(t.name)': differs from the source at byte \(m)"))
                }
            } catch {
                report.failures.append(Failure(tensor: t.name, message: String(describing: error)))
            }
        }
        if let source {
            let names = Set(latte.manifest.tensors.map(\.name))
            for e in source.tensors where !names.contains(e.name) {
                report.failures.append(Failure(tensor: e.name, message: "\(latte.path): tensor '\(e.name)': in the source checkpoint but missing here"))
            }
        }
        for b in latte.manifest.blobs {
            do { _ = try latte.readBlob(named: b.name) } catch {
                report.failures.append(Failure(tensor: nil, message: String(describing: error)))
            }
        }
        return report
    }
}
