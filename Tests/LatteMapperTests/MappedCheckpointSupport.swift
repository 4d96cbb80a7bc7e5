import LatteCore
import LatteMapper
import LatteReaders

extension MappedCheckpoint {
    /// Opens `source` with the checkpoint readers and plans it, as `latte map` does.
    init(source: String, configPath: String? = nil, mappingPath: String? = nil, allowExtra: Bool = false) throws {
        try self.init(checkpoint: CheckpointReader.open(path: source), source: source, configPath: configPath,
                      mappingPath: mappingPath, allowExtra: allowExtra)
    }
}
