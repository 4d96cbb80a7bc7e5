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
/// manifest; shared tensors decoded when the model reads them, a replica group's section
/// decompressed in one pass the first time a step of that group runs, and never touched
/// otherwise), or any checkpoint `CheckpointReader` reads, with its `config.json`.
public enum ModelLoader {
    /// `base` resolves a `.latte` file's base references (ignored for a checkpoint).
    public static func open(path: String, base: Checkpoint? = nil) throws -> LoadedModel {
        switch try ModelFile.open(path: path, base: base) {
        case let .latte(file): try open(file)
        case let .checkpoint(checkpoint): try open(checkpoint, path: path)
        }
    }

    /// A `.latte` file's model, its config from the manifest.
    public static func open(_ file: LatteFile) throws -> LoadedModel {
        let path = file.path
        guard let json = file.manifest.provenance["config"], json != .null else {
            throw LocatedError(path: path, ModelLoaderError.noConfigInFile)
        }
        let config: ModelConfig
        do { config = try ModelConfig(json: json) } catch { throw LocatedError(path: path, error) }
        return LoadedModel(path: path, config: config, weights: DecodingWeightSource(file), latteFile: file, files: [path] + (file.base?.files.map(\.path) ?? []))
    }

    /// An opened checkpoint's model, with the `config.json` beside it; `path` names it in messages.
    static func open(_ checkpoint: Checkpoint, path: String) throws -> LoadedModel {
        guard let configPath = checkpoint.configPath else { throw LocatedError(path: path, ModelLoaderError.noConfigBeside) }
        let config = try ModelConfig.load(path: configPath)
        return LoadedModel(path: checkpoint.files.first?.path ?? path, config: config,
                           weights: DecodingWeightSource(checkpoint), latteFile: nil,
                           files: checkpoint.files.map(\.path) + [configPath])
    }
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
