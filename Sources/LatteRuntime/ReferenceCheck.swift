import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders
import LatteSystem

/// Reference inputs and the outputs a reference implementation produced from them
/// (`inputs.safetensors`, `expected.safetensors`, and optionally `run.json` with
/// `{"steps": S, "cfg_scale": g}`), from a folder or embedded in a `.latte` file.
public struct ReferenceSet {
    /// Names under which `latte convert --reference` embeds the three files.
    public static let inputsBlob = EmbeddedReference.inputsBlob
    public static let expectedBlob = EmbeddedReference.expectedBlob
    public static let runBlob = EmbeddedReference.runBlob
    /// Largest `run.json` read: it holds two numbers.
    public static let maxRunSettingsBytes = 1 << 16

    public var inputs: Checkpoint
    public var expected: Checkpoint
    public var steps: Int
    public var cfgScale: Float
    /// Where the set came from, for messages.
    public var origin: String
    /// Where the inputs came from, for messages naming them.
    public var inputsOrigin: String
    /// True for a set embedded in a `.latte` file (which a plain `verify` runs only within
    /// its work budget).
    public var isEmbedded: Bool

    /// Reads a reference folder.
    public static func load(folder dir: String) throws -> ReferenceSet {
        let files = try EmbeddedReference.files(inFolder: dir)
        let inputs = try CheckpointReader.open(path: files[0].path)
        let expected = try CheckpointReader.open(path: files[1].path)
        var steps = 40, cfg: Float = 1
        if files.count > 2 {
            let path = files[2].path
            let json: JSONValue
            do { json = try JSON.load(path: path, maxBytes: maxRunSettingsBytes) } catch let e as JSONError {
                if case let .tooLarge(size, _) = e { throw LocatedError(path: path, ReferenceError.runSettingsTooLarge(size)) }
                throw LocatedError(path: path, e)
            }
            (steps, cfg) = try runSettings(json, origin: path)
        }
        return ReferenceSet(inputs: inputs, expected: expected, steps: steps, cfgScale: cfg, origin: dir,
                            inputsOrigin: files[0].path, isEmbedded: false)
    }

    /// Reads the set embedded in a `.latte` file, or nil when it has none. The blobs are
    /// checksum-verified and read where they are, in memory (`MemoryRegion`): nothing is
    /// written anywhere, so nothing can be left behind, even by a killed process.
    public static func load(embeddedIn file: LatteFile) throws -> ReferenceSet? {
        let names = Set(file.manifest.blobs.map(\.name))
        guard names.contains(inputsBlob), names.contains(expectedBlob) else { return nil }
        func embedded(_ name: String) throws -> Checkpoint {
            try SafetensorsReader.open(region: MemoryRegion(copying: file.readBlob(named: name), label: file.path + ":" + name))
        }
        let inputs = try embedded(inputsBlob)
        let expected = try embedded(expectedBlob)
        var steps = 40, cfg: Float = 1
        if let run = file.manifest.blobs.first(where: { $0.name == runBlob }) {
            let origin = file.path + ":" + runBlob
            guard run.nbytes <= maxRunSettingsBytes else { throw LocatedError(path: origin, ReferenceError.runSettingsTooLarge(run.nbytes)) }
            let bytes = try file.readBlob(named: runBlob)
            let json: JSONValue
            do { json = try bytes.withUnsafeBytes { b throws(JSONError) in try JSON.parse(b) } } catch { throw LocatedError(path: origin, error) }
            (steps, cfg) = try runSettings(json, origin: origin)
        }
        return ReferenceSet(inputs: inputs, expected: expected, steps: steps, cfgScale: cfg, origin: file.path + " (embedded)",
                            inputsOrigin: file.path + ":" + inputsBlob, isEmbedded: true)
    }

    /// `steps` (an integer, default 40) and `cfg_scale` (a number, default 1), each within
    /// `RuntimeLimits`.
    static func runSettings(_ json: JSONValue, origin: String) throws -> (Int, Float) {
        guard json.objectValue != nil else { throw LocatedError(path: origin, ReferenceError.badRunSettings("must be a JSON object")) }
        var steps = 40, cfg: Float = 1
        do {
            if let v = json["steps"] {
                guard let s = v.intValue else {
                    throw ReferenceError.badRunSettings("'steps' must be an integer, found \(v.serialized())")
                }
                try RuntimeLimits.checkSteps(s, "'steps'")
                steps = s
            }
            if let v = json["cfg_scale"] {
                guard let g = v.doubleValue else { throw ReferenceError.badRunSettings("'cfg_scale' must be a number, found \(v.serialized())") }
                try RuntimeLimits.checkGuidance(Float(g), "'cfg_scale'")
                cfg = Float(g)
            }
        } catch {
            throw LocatedError(path: origin, error)
        }
        return (steps, cfg)
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

/// How much work a reference run may do.
public enum WorkBudget: Sendable, Equatable {
    /// Any amount: the reference was asked for explicitly (`--reference DIR`,
    /// `--allow-long-reference`).
    case unlimited
    /// `ReferenceCheck.automaticWorkBudget(parameters:)`: what a plain `verify` allows an
    /// embedded reference.
    case automatic
    /// At most this many operations (as `RunEstimate.operations` counts them).
    case operations(Double)
}

/// Runs a model on a reference set and compares every output it holds.
public enum ReferenceCheck {
    /// The default tolerance on max |a - e| / max |e|. The reference computes from the same
    /// stored weights (a BF16 model's expected outputs come from its rounded weights), so
    /// the stored dtype does not widen the gap: what is left is float32 summation order.
    public static let defaultTolerance = 2e-4

    /// What any model's embedded reference may cost in a plain `verify`: 10^10 operations,
    /// at most ~1.5 s on this 2-core machine even on the least efficient shapes measured
    /// (6.5·10^9 to 1.4·10^10 operations per second: tiny widths with 4096 image tokens,
    /// 1024 velocity evaluations, 256 layers of width 8; docs/CLI.md), and 10 to 100 times
    /// the fixtures' references (8·10^6 to 6.4·10^7).
    public static let workBudgetFloor = 1e10
    /// Operations per parameter allowed beyond the floor: 2,000, i.e. the work of pushing
    /// 1,000 tokens through every weight of the model (a multiply-add is two). For the
    /// paper's 2B model that is 6·10^12, a minute or two here: a reference of a few steps at
    /// a small latent fits, a 100,000-step `run.json` does not.
    public static let workBudgetPerParameter = 2_000.0

    /// The work budget of a plain `verify` for a model of `parameters` weights: the work is
    /// bounded by the bytes of weights really present, not by the numbers of a `run.json`.
    public static func automaticWorkBudget(parameters: Int) -> Double {
        max(workBudgetFloor, workBudgetPerParameter * Double(parameters))
    }

    /// Runs `model` on `reference` and compares every output the set holds. Refused before
    /// any work when the run would pass `workBudget` or the memory budget (`memoryBudget`
    /// bytes; nil: `MemoryBudget.automatic`). Errors name the file they concern. `progress`
    /// counts the run's sampling steps and velocity evaluations.
    public static func run(model: LoadedModel, reference: ReferenceSet, tolerance: Double = defaultTolerance,
                           workBudget: WorkBudget = .unlimited, memoryBudget: Int? = nil,
                           progress: ProgressHandler? = nil) throws -> [ReferenceResult] {
        let inputs: RunInputs
        do { inputs = try RunInputs.load(reference.inputs, config: model.config) } catch let e as RuntimeError {
            throw LocatedError(path: reference.inputsOrigin, e)
        }
        let latte: LatteModel
        do { latte = try LatteModel(config: model.config, weights: model.weights, memoryBudget: memoryBudget) } catch let e as RuntimeError {
            throw LocatedError(path: model.path, e)
        }
        let limit: Double? = switch workBudget {
        case .unlimited: nil
        case .automatic: automaticWorkBudget(parameters: latte.footprint.parameters)
        case let .operations(n): n
        }
        // Memory first (no option runs past it but a larger budget), then work.
        let cost = LatteRun.estimate(model: latte, inputs: inputs, steps: reference.steps, cfgScale: reference.cfgScale)
        do { try LatteRun.checkMemory(cost, model: latte) } catch { throw LocatedError(path: model.path, error) }
        if let limit {
            guard cost.operations <= limit else {
                throw LocatedError(path: model.path, ReferenceError.overWorkBudget(
                    operations: cost.operations, budget: limit, shape: cost.shape, parameters: latte.footprint.parameters))
            }
        }
        let outputs: [OutputTensor]
        do {
            outputs = try LatteRun.execute(model: latte, inputs: inputs, steps: reference.steps, cfgScale: reference.cfgScale,
                                           progress: progress).outputs
        } catch let e as RuntimeError {
            if case .usage = e { throw LocatedError(path: reference.origin, e) }
            throw LocatedError(path: e.concernsInputs ? reference.inputsOrigin : model.path, e)
        }
        var results: [ReferenceResult] = []
        for out in outputs {
            guard let e = reference.expected.tensor(named: out.name) else { continue }
            guard e.dtype == .f32, e.shape == out.shape else {
                throw LocatedError(path: reference.origin, tensor: out.name,
                                   ReferenceError.expectedMismatch(expected: "\(e.dtype.name) \(e.shape)", produced: "F32 \(out.shape)"))
            }
            let bytes = try reference.expected.bytes(of: e)
            guard bytes.count == out.values.count * 4 else {
                throw LocatedError(path: reference.origin, tensor: out.name,
                                   RuntimeError.wrongByteCount(tensor: out.name, expected: out.values.count * 4, found: bytes.count))
            }
            let expected: [Float] = bytes.withUnsafeBytes { raw in
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
    case runSettingsTooLarge(Int)
    case badRunSettings(String)
    case expectedMismatch(expected: String, produced: String)
    case nothingToCompare
    case overWorkBudget(operations: Double, budget: Double, shape: String, parameters: Int)

    public var description: String {
        switch self {
        case let .runSettingsTooLarge(n): "run.json is \(n) bytes, above the limit of \(ReferenceSet.maxRunSettingsBytes)"
        case let .badRunSettings(why): why
        case let .expectedMismatch(e, p): "the reference holds \(e), the run produced \(p)"
        case .nothingToCompare: "expected.safetensors holds none of the outputs the run produced (sample, velocity, context_hidden)"
        case let .overWorkBudget(ops, budget, shape, parameters):
            "the embedded reference run needs about \(RunEstimate.formatOperations(ops)) operations (\(shape)),"
                + " above verify's budget of \(RunEstimate.formatOperations(budget)) for a model of \(parameters) parameters;"
                + " run it anyway with --allow-long-reference, or check only the weights with --weights-only"
        }
    }
}
