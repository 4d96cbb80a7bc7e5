import LatteCore

/// What a PyTorch file holds once read: its tensors (views over storages in the file)
/// and the key paths of non-tensor leaves that were skipped.
public struct TorchContents: Sendable {
    public var format: CheckpointFormat
    public var tensors: [TensorEntry]
    public var metadata: [String: String]
    public var skipped: [String]
}

/// Reads files written by `torch.save` (zip and legacy) and `torch.export.save` (`.pt2`).
public enum TorchReader {
    /// Reads one mapped PyTorch file; tensors point into it as file number `fileIndex`.
    public static func read(file: MappedFile, fileIndex: Int) throws -> TorchContents {
        throw LocatedError(path: file.path, TorchReaderError.notImplemented)
    }
}

public enum TorchReaderError: Error, Equatable, CustomStringConvertible {
    case notImplemented
    public var description: String { "PyTorch files are not supported by this build yet" }
}
