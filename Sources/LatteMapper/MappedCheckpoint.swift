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
        try self.init(checkpoint: checkpoint, source: source, config: ConfigFile(path: configPath),
                      mappingPath: mappingPath, allowExtra: allowExtra)
    }

    /// Plans an opened checkpoint with a config file already read.
    public init(checkpoint: Checkpoint, source: String, config file: ConfigFile, mappingPath: String? = nil,
                allowExtra: Bool = false) throws {
        let config = try ModelConfig(file: file)
        let mapping = try mappingPath.map(NameMapping.load) ?? .canonical
        do {
            plan = try ExpertGroupPlan(config: config, checkpoint: checkpoint, mapping: mapping, allowExtra: allowExtra)
        } catch {
            throw LocatedError(path: source, error)
        }
        self.checkpoint = checkpoint
        configPath = file.path
    }
}

extension MappedCheckpoint {
    /// The layout `latte convert` writes, from the config it read (the one it also records):
    /// the plan's sections when it is a LaTtE-Flow config (validated: a missing or misshapen
    /// tensor is an error and nothing is written), nil (one section) when there is no config
    /// or it belongs to another model. A mapping file asks for a plan, so it needs a
    /// LaTtE-Flow config.
    public static func sectionPlanForConversion(_ checkpoint: Checkpoint, source: String, config: ConfigFile?,
                                                mappingPath: String?, allowExtra: Bool) throws -> SectionPlan? {
        guard let config else {
            if mappingPath != nil { throw LocatedError(path: source, MappingSourceError.noConfig) }
            return nil
        }
        // Another model's config.json (a BERT, a plain Qwen2, one with no model_type at all)
        // is not an error: its weights convert as one section.
        if !ModelConfig.isLatteFlow(config.json), mappingPath == nil { return nil }
        return try MappedCheckpoint(checkpoint: checkpoint, source: source, config: config, mappingPath: mappingPath,
                                    allowExtra: allowExtra).plan.sectionPlan
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
