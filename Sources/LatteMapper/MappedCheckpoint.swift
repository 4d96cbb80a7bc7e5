import LatteCore
import LatteReaders

/// An opened checkpoint with its config, naming rules and validated plan: what
/// `latte map` shows and `latte convert` lays out.
public struct MappedCheckpoint: Sendable {
    public let checkpoint: Checkpoint
    /// The config file that was read.
    public let configPath: String
    public let plan: ExpertGroupPlan

    /// Opens `source` (any path `CheckpointReader.open(path:)` takes), reads the config
    /// (`configPath`, else the `config.json` beside the weights) and the mapping file if
    /// any, and builds the plan. Nothing is written.
    ///
    /// - Throws: `LocatedError`s naming the file: reader errors, `ModelConfigError`,
    ///   `NameMappingError`, `MappingSourceError.noConfig`, and `PlanError` with the tensor.
    public init(source: String, configPath: String? = nil, mappingPath: String? = nil, allowExtra: Bool = false) throws {
        let checkpoint = try CheckpointReader.open(path: source)
        guard let configPath = configPath ?? checkpoint.configPath else {
            throw LocatedError(path: source, MappingSourceError.noConfig)
        }
        let config = try ModelConfig.load(path: configPath)
        let mapping = try mappingPath.map(NameMapping.load) ?? .canonical
        do {
            plan = try ExpertGroupPlan(config: config, checkpoint: checkpoint, mapping: mapping, allowExtra: allowExtra)
        } catch {
            throw LocatedError(path: source, error)
        }
        self.checkpoint = checkpoint
        self.configPath = configPath
    }
}

/// What is missing to plan a checkpoint.
public enum MappingSourceError: Error, Equatable, CustomStringConvertible {
    case noConfig

    public var description: String {
        switch self {
        case .noConfig: "no config.json beside the weights: pass --config FILE"
        }
    }
}
