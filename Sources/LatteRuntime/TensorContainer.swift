import LatteCore
import LatteReaders

/// What run inputs and reference outputs are read from: a checkpoint a reader opened
/// (`Checkpoint`), or a safetensors file held in memory (`InMemorySafetensors`).
public protocol TensorContainer: AnyObject {
    /// The tensor called `name`, if there is one.
    func tensor(named name: String) -> TensorEntry?
    /// Its bytes, contiguous, row-major, little-endian.
    func bytes(of entry: TensorEntry) throws -> TensorBytes
}

extension Checkpoint: TensorContainer {}

/// A safetensors file's bytes in memory, checked by the same header parser as files on
/// disk. Embedded references are read this way: they never get a name in the filesystem,
/// so nothing is left behind whatever happens to the process.
public final class InMemorySafetensors: TensorContainer {
    /// Where the bytes came from, for messages (e.g. `model.latte:reference/inputs.safetensors`).
    public let origin: String
    public let tensors: [TensorEntry]
    private let data: [UInt8]
    private let index: [String: Int]

    /// Parses `bytes` as a safetensors file; errors name `origin`.
    public init(bytes: [UInt8], origin: String) throws {
        let header: SafetensorsReader.Header
        do {
            header = try bytes.withUnsafeBytes { raw throws(SafetensorsError) in
                try SafetensorsReader.parseHeader(raw, fileIndex: 0)
            }
        } catch {
            throw LocatedError(path: origin, error)
        }
        self.origin = origin
        data = bytes
        tensors = header.tensors
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    public func tensor(named name: String) -> TensorEntry? { index[name].map { tensors[$0] } }

    /// A copy of the tensor's bytes (inputs and reference outputs are read once each).
    public func bytes(of entry: TensorEntry) throws -> TensorBytes {
        // The parser gives dense little-endian ranges inside the data; checked again here
        // because an entry could come from elsewhere.
        let (end, overflow) = entry.storageOffset.addingReportingOverflow(entry.storageLength)
        guard entry.isContiguous, entry.elementOffset == 0, !overflow, entry.storageOffset >= 0, end <= data.count,
              entry.byteCount <= entry.storageLength else {
            throw TensorReadError.storageOutsideFile(tensor: entry.name, path: origin)
        }
        return TensorBytes(owned: Array(data[entry.storageOffset ..< entry.storageOffset + entry.byteCount]))
    }
}
