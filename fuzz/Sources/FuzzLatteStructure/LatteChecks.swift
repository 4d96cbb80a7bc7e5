#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LatteCore
import LatteFormat
import LatteReaders

/// What every accepted `.latte` input is put through, as the CLI's commands would: each
/// tensor read (whole, and from the map), each group and embedded file, `verify`, and
/// `export` to a file, whose result must read back (same names, dtypes, shapes, bytes and
/// metadata) and which must leave nothing behind when it fails. Reads use the reader's real
/// thread count (at least 2), so a stream has a batch in flight while the previous one is
/// consumed. A violated expectation is a `finding` (an abort), which libFuzzer reports.
enum LatteChecks {
    /// Tensors larger than this are streamed rather than collected (the harness's own memory).
    static let collectLimit = 64 << 20

    /// FORMAT.md (issue 10): stored chunks neither overlap nor alias. Off with
    /// `FUZZ_LATTE_ALLOW_OVERLAP=1`, to see what the resource limits alone catch.
    static let checkOverlap = getenv("FUZZ_LATTE_ALLOW_OVERLAP") == nil

    static func run(_ file: LatteFile, exportDir: String) {
        file.threads = max(2, file.threads)
        if checkOverlap { noOverlap(file) }
        var read: [String: [UInt8]] = [:]
        // Larger tensors are decoded by `verify` and `export` below.
        for t in file.tensors {
            if t.nbytes <= collectLimit, let b = try? file.read(t) { read[t.name] = b }
            _ = try? file.mappedBytes(of: t)
        }
        for (g, s) in file.groupSections where file.tensors.lazy.filter({ $0.section == s }).reduce(0, { $0 &+ $1.nbytes }) <= collectLimit {
            _ = try? file.readGroup(g)
        }
        for b in file.manifest.blobs where b.nbytes <= collectLimit { _ = try? file.readBlob(named: b.name) }
        _ = LatteVerifier.verify(file, source: nil)
        exportAndReadBack(file, read: read, dir: exportDir)
    }

    static func noOverlap(_ file: LatteFile) {
        var ranges = (file.tensors.flatMap(\.chunks) + file.manifest.blobs.flatMap(\.chunks)).map { ($0.offset, $0.offset + $0.length) }
        ranges.sort { $0.0 < $1.0 }
        for (a, b) in zip(ranges, ranges.dropFirst()) where b.0 < a.1 {
            finding("accepted a file whose chunks overlap: bytes \(a.0)..<\(a.1) and \(b.0)..<\(b.1)")
        }
    }

    static func exportAndReadBack(_ file: LatteFile, read: [String: [UInt8]], dir: String) {
        let out = dir + "/out.safetensors"
        let exported = (try? SafetensorsExport.export(file, to: out)) != nil
        let left = listFolder(dir)
        guard exported else {
            if !left.isEmpty { finding("a failed export left \(left) behind") }
            return
        }
        defer { removeTree(dir); mkdir(dir, 0o700) }
        if left != ["out.safetensors"] { finding("export left \(left)") }
        let back: Checkpoint
        do { back = try SafetensorsReader.open(path: out) } catch {
            finding("export wrote a file latte cannot read: \(error)")
        }
        if back.tensors.count != file.tensors.count {
            finding("export wrote \(file.tensors.count) tensors, reading it back finds \(back.tensors.count)")
        }
        for t in file.tensors {
            guard let e = back.tensor(named: t.name) else { finding("export lost tensor '\(t.name.debugDescription)'") }
            if e.dtype != t.dtype || e.shape != t.shape {
                finding("tensor '\(t.name.debugDescription)': exported as \(t.dtype) \(t.shape), read back as \(e.dtype) \(e.shape)")
            }
            if let want = read[t.name], let got = try? back.bytes(of: e) {
                if !got.withUnsafeBytes({ $0.elementsEqual(want) }) { finding("tensor '\(t.name.debugDescription)': exported bytes differ") }
            }
        }
        let metadata = Dictionary(file.manifest.metadata, uniquingKeysWith: { a, _ in a })
        if metadata != back.metadata, file.manifest.metadata.count == metadata.count {
            finding("metadata \(metadata) exported, \(back.metadata) read back")
        }
    }
}
