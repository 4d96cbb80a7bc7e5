import LatteCore
import LatteFormat
import LatteMapper
import LatteReaders

/// A model ready to run: its config, where its weights come from, and the `.latte` file
/// behind them when there is one (so callers can see which sections were decompressed).
public struct LoadedModel {
    public let path: String
    public let config: ModelConfig
    public let weights: any WeightSource
    public let latteFile: LatteFile?
    /// Every file the model is read from (weights, config), which no output may overwrite.
    public let files: [String]
}

/// Opens what `latte run` and `latte verify` run: a `.latte` file (its config from the
/// manifest, replica groups decompressed only when a step needs them), or any checkpoint
/// `CheckpointReader` reads, with its `config.json`.
public enum ModelLoader {
    public static func open(path: String) throws -> LoadedModel {
        if LatteFile.isLatte(path: path) {
            let file = try LatteFile(path: path)
            guard let json = file.manifest.provenance["config"], json != .null else {
                throw LocatedError(path: path, ModelLoaderError.noConfigInFile)
            }
            let config: ModelConfig
            do { config = try ModelConfig(json: json) } catch { throw LocatedError(path: path, error) }
            return LoadedModel(path: path, config: config, weights: LatteFileWeightSource(file), latteFile: file, files: [path])
        }
        let checkpoint = try CheckpointReader.open(path: path)
        guard let configPath = checkpoint.configPath else { throw LocatedError(path: path, ModelLoaderError.noConfigBeside) }
        let config = try ModelConfig.load(path: configPath)
        return LoadedModel(path: checkpoint.files.first?.path ?? path, config: config,
                           weights: CheckpointWeightSource(checkpoint), latteFile: nil,
                           files: checkpoint.files.map(\.path) + [configPath])
    }
}

/// Weights read from a `.latte` file. Shared tensors (context, time embedding, head) are
/// decoded when the model reads them; a replica group's section is decompressed in one
/// pass the first time a step of that group runs, and never touched otherwise. The decoded
/// bytes of one group are kept until the next group is prepared: the model copies them
/// into its float32 buffers right after `prepare`, so keeping every group's would only
/// hold the replica weights twice (3 GB more for the paper's 2B model in BF16).
/// Not Sendable: `prepare` replaces that cache, so one model uses a source at a time.
public final class LatteFileWeightSource: WeightSource {
    public let file: LatteFile
    private var groupCache: [String: [UInt8]] = [:]
    private var base: ClosureWeightSource!

    public init(_ file: LatteFile) {
        self.file = file
        base = ClosureWeightSource(
            shape: { [unowned self] name in self.file.tensor(named: name)?.shape },
            withBytes: { [unowned self] name, body in
                guard let t = self.file.tensor(named: name) else { throw RuntimeError.missingTensor(name) }
                if let cached = self.groupCache[name] { return try cached.withUnsafeBytes { try body(t.dtype, $0) } }
                if let mapped = try self.file.mappedBytes(of: t) { return try body(t.dtype, mapped) }
                try self.file.read(t).withUnsafeBytes { try body(t.dtype, $0) }
            },
            prepare: { [unowned self] group in
                self.groupCache.removeAll()
                for (t, bytes) in try self.file.readGroup(group) { self.groupCache[t.name] = bytes }
            }
        )
    }

    /// Bytes of decoded group tensors held now (one group's at most).
    var cachedBytes: Int { groupCache.values.reduce(0) { $0 + $1.count } }

    /// A tensor stored as one raw chunk is read from the map; any other is decoded into a copy.
    public func readScratchBytes(_ name: String) -> Int? {
        guard let t = file.tensor(named: name) else { return 0 }
        return t.chunks.count == 1 && t.chunks[0].codec == .raw ? 0 : t.nbytes
    }

    /// The decoded bytes of every tensor of the group's section, and the largest once more
    /// for the array being grown while its chunks are appended.
    public func preparedBytes(group: Int) -> Int? {
        guard let section = file.manifest.sections.firstIndex(where: { $0.kind == .group && $0.group == group }) else { return 0 }
        let members = file.manifest.tensors.filter { $0.section == section }.map(\.nbytes)
        return Checked.sum(Checked.sum(members), members.max() ?? 0)
    }

    public func shape(_ name: String) -> [Int]? { base.shape(name) }
    public func read(_ name: String, into destination: UnsafeMutableBufferPointer<Float>) throws { try base.read(name, into: destination) }
    public func readRows(_ name: String, rows: [Int], into destination: UnsafeMutableBufferPointer<Float>) throws {
        try base.readRows(name, rows: rows, into: destination)
    }
    public func prepare(group: Int) throws { try base.prepare(group: group) }
}

/// Why a model could not be opened for running.
public enum ModelLoaderError: Error, Equatable, CustomStringConvertible {
    case noConfigInFile
    case noConfigBeside

    public var description: String {
        switch self {
        case .noConfigInFile: "the .latte file records no model config: convert it from a folder with config.json (or pass --config)"
        case .noConfigBeside: "no config.json beside the weights"
        }
    }
}
