import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders

#if canImport(Glibc)
import Glibc
#endif

/// Reference inputs and the outputs a reference implementation produced from them
/// (`inputs.safetensors`, `expected.safetensors`, and optionally `run.json` with
/// `{"steps": S, "cfg_scale": g}`), from a folder or embedded in a `.latte` file.
public struct ReferenceSet {
    /// Names under which `latte convert --reference` embeds the three files.
    public static let inputsBlob = "reference/inputs.safetensors"
    public static let expectedBlob = "reference/expected.safetensors"
    public static let runBlob = "reference/run.json"

    public var inputs: Checkpoint
    public var expected: Checkpoint
    public var steps: Int
    public var cfgScale: Float
    /// Where the set came from, for messages.
    public var origin: String
    /// The unpacked copies of an embedded set, removed when the set goes away.
    private var scratch: ScratchFolder?

    /// The files `convert --reference DIR` embeds: both safetensors files must be there.
    public static func files(inFolder dir: String) throws -> [(name: String, path: String)] {
        let folder = dir.hasSuffix("/") ? dir : dir + "/"
        var out: [(String, String)] = []
        for (blob, file) in [(inputsBlob, "inputs.safetensors"), (expectedBlob, "expected.safetensors")] {
            guard access(folder + file, R_OK) == 0 else { throw LocatedError(path: folder + file, ReferenceError.missingFile) }
            out.append((blob, folder + file))
        }
        if access(folder + "run.json", R_OK) == 0 { out.append((runBlob, folder + "run.json")) }
        return out
    }

    /// Reads a reference folder.
    public static func load(folder dir: String) throws -> ReferenceSet {
        let files = try files(inFolder: dir)
        let inputs = try CheckpointReader.open(path: files[0].path)
        let expected = try CheckpointReader.open(path: files[1].path)
        var steps = 40, cfg: Float = 1
        if files.count > 2 {
            let f = try MappedFile(path: files[2].path)
            (steps, cfg) = try runSettings(f.bytes, origin: files[2].path)
        }
        return ReferenceSet(inputs: inputs, expected: expected, steps: steps, cfgScale: cfg, origin: dir, scratch: nil)
    }

    /// Reads the set embedded in a `.latte` file, or nil when it has none. The blobs are
    /// checksum-verified and written to a private temporary folder for the readers.
    public static func load(embeddedIn file: LatteFile) throws -> ReferenceSet? {
        let names = Set(file.manifest.blobs.map(\.name))
        guard names.contains(inputsBlob), names.contains(expectedBlob) else { return nil }
        let scratch = try ScratchFolder()
        let dir = scratch.path
        func unpack(_ blob: String, _ name: String) throws -> Checkpoint {
            let bytes = try file.readBlob(named: blob)
            let path = dir + "/" + name
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            guard fd >= 0 else { throw LocatedError(path: path, ReferenceError.cannotUnpack(errno)) }
            defer { close(fd) }
            let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard written == bytes.count else { throw LocatedError(path: path, ReferenceError.cannotUnpack(errno)) }
            scratch.files.append(path)
            return try CheckpointReader.open(path: path)
        }
        let inputs = try unpack(inputsBlob, "inputs.safetensors")
        let expected = try unpack(expectedBlob, "expected.safetensors")
        var steps = 40, cfg: Float = 1
        if names.contains(runBlob) {
            let bytes = try file.readBlob(named: runBlob)
            (steps, cfg) = try bytes.withUnsafeBytes { try runSettings($0, origin: file.path + ":" + runBlob) }
        }
        return ReferenceSet(inputs: inputs, expected: expected, steps: steps, cfgScale: cfg, origin: file.path + " (embedded)",
                            scratch: scratch)
    }

    private static func runSettings(_ bytes: UnsafeRawBufferPointer, origin: String) throws -> (Int, Float) {
        let json: JSONValue
        do { json = try JSON.parse(bytes) } catch { throw LocatedError(path: origin, error) }
        let steps = json["steps"]?.intValue ?? 40
        let cfg = json["cfg_scale"]?.doubleValue ?? 1
        guard steps >= 1, steps <= 100_000, cfg.isFinite else { throw LocatedError(path: origin, ReferenceError.badRunSettings) }
        return (steps, Float(cfg))
    }
}

/// A private temporary folder (`mkdtemp`) whose files are removed with it.
final class ScratchFolder {
    let path: String
    var files: [String] = []

    init() throws {
        var template = Array("/tmp/latte-reference-XXXXXX".utf8CString)
        guard let p = mkdtemp(&template) else { throw LocatedError(path: "/tmp", ReferenceError.cannotUnpack(errno)) }
        path = String(cString: p)
    }

    deinit {
        for f in files { unlink(f) }
        rmdir(path)
    }
}

/// One output compared with its reference.
public struct ReferenceResult: Sendable {
    public var name: String
    public var comparison: OutputComparison
    public var tolerance: Double
    public var passed: Bool { comparison.passes(tolerance: tolerance) }

    /// As `verify --json` reports it.
    public var json: JSONValue {
        .object([
            ("name", .string(name)), ("max_abs_error", .double(comparison.maxAbsError)),
            ("relative_error", .double(comparison.relativeError)), ("tolerance", .double(tolerance)),
            ("passed", .bool(passed)),
        ])
    }
}

/// Runs a model on a reference set and compares every output it holds.
public enum ReferenceCheck {
    /// The default tolerance on max |a - e| / max |e|. The reference computes from the same
    /// stored weights (a BF16 model's expected outputs come from its rounded weights), so
    /// the stored dtype does not widen the gap: what is left is float32 summation order.
    public static let defaultTolerance = 2e-4

    public static func run(model: LoadedModel, reference: ReferenceSet, tolerance: Double = defaultTolerance) throws -> [ReferenceResult] {
        let inputs = try RunInputs.load(reference.inputs, config: model.config)
        let latte = try LatteModel(config: model.config, weights: model.weights)
        let (outputs, _) = try LatteRun.execute(model: latte, inputs: inputs, steps: reference.steps, cfgScale: reference.cfgScale)
        var results: [ReferenceResult] = []
        for out in outputs {
            guard let e = reference.expected.tensor(named: out.name) else { continue }
            guard e.dtype == .f32, e.shape == out.shape else {
                throw LocatedError(path: reference.origin, tensor: out.name,
                                   ReferenceError.expectedMismatch(expected: "\(e.dtype.name) \(e.shape)", produced: "F32 \(out.shape)"))
            }
            let expected: [Float] = try reference.expected.bytes(of: e).withUnsafeBytes { raw in
                (0 ..< out.values.count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
            }
            results.append(ReferenceResult(name: out.name, comparison: OutputComparison(actual: out.values, expected: expected), tolerance: tolerance))
        }
        guard !results.isEmpty else { throw LocatedError(path: reference.origin, ReferenceError.nothingToCompare) }
        return results
    }
}

/// What is wrong with a reference set.
public enum ReferenceError: Error, Equatable, CustomStringConvertible {
    case missingFile
    case cannotUnpack(Int32)
    case badRunSettings
    case expectedMismatch(expected: String, produced: String)
    case nothingToCompare

    public var description: String {
        switch self {
        case .missingFile: "missing: a reference folder holds inputs.safetensors and expected.safetensors"
        case let .cannotUnpack(e): "cannot unpack the embedded reference: \(String(cString: strerror(e)))"
        case .badRunSettings: "run.json must hold steps (1 to 100000) and a finite cfg_scale"
        case let .expectedMismatch(e, p): "the reference holds \(e), the run produced \(p)"
        case .nothingToCompare: "expected.safetensors holds none of the outputs the run produced (sample, velocity, context_hidden)"
        }
    }
}
