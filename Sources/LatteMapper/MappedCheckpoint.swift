import LatteCore

/// An opened checkpoint with its config, naming rules and validated plan: what
/// `latte map` shows and `latte convert` lays out. The caller opens the checkpoint (any
/// reader), so the mapper depends on the core types alone.
public struct MappedCheckpoint: Sendable {
    public let checkpoint: Checkpoint
    /// The config file that was read.
    public let configPath: String
    public let plan: ExpertGroupPlan

    /// Plans an opened checkpoint: reads the config (`configPath`, else the `config.json`
    /// beside the weights) and the mapping file if any, and builds the plan. Nothing is
    /// written; `source` names the checkpoint in messages.
    ///
    /// - Throws: `LocatedError`s naming the file: `ModelConfigError`, `NameMappingError`,
    ///   `MappingSourceError.noConfig`, and `PlanError` with the tensor.
    public init(checkpoint: Checkpoint, source: String, configPath: String? = nil, mappingPath: String? = nil,
                allowExtra: Bool = false) throws {
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

extension MappedCheckpoint {
    /// The layout `latte convert` writes: the plan's sections when the checkpoint has a
    /// LaTtE-Flow config (validated: a missing or misshapen tensor is an error and nothing
    /// is written), nil (one section) when it has no config or another model's config.
    public static func sectionPlanForConversion(_ checkpoint: Checkpoint, source: String, configPath: String?,
                                                mappingPath: String?, allowExtra: Bool) throws -> SectionPlan? {
        guard let path = configPath ?? checkpoint.configPath else {
            if mappingPath != nil { throw LocatedError(path: source, MappingSourceError.noConfig) }
            return nil
        }
        let file = try MappedFile(path: path)
        // Another model's config.json (a BERT, a plain Qwen2) is not an error: its weights
        // convert as one section. A LaTtE-Flow config must then be right in every detail.
        if let json = try? JSON.parse(file.bytes), let type = json["model_type"]?.stringValue, type != "latte_flow",
           mappingPath == nil {
            return nil
        }
        let mapped = try MappedCheckpoint(checkpoint: checkpoint, source: source, configPath: path,
                                          mappingPath: mappingPath, allowExtra: allowExtra)
        return mapped.plan.sectionPlan
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
