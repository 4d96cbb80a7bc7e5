import LatteCore
import LatteFormat
import LatteReaders

/// One float32 output tensor.
public struct OutputTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(elementCount(of: shape) == values.count, "\(name): \(values.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// Writes the runtime's outputs, F32 tensors, as a safetensors file (`SafetensorsWriter`),
/// to a temporary file beside the destination and renamed over it when complete.
public enum OutputWriter {
    /// The file's bytes: header length, JSON header (space-padded to 8 bytes), data.
    public static func serialize(_ tensors: [OutputTensor]) throws -> [UInt8] {
        try SafetensorsWriter.bytes(tensors)
    }

    /// Writes `tensors` to `path` atomically (a temporary file beside it, then rename),
    /// never over one of `inputs`.
    public static func write(_ tensors: [OutputTensor], to path: String, notOverwriting inputs: [String] = []) throws {
        try OutputTarget.check(path, notOverwriting: inputs)
        let bytes: [UInt8]
        do { bytes = try serialize(tensors) } catch { throw LocatedError(path: path, error) }
        let output = try AtomicOutput(path: path)
        try output.write(bytes)
        try output.commit(sync: false)
    }
}

extension OutputTensor: SafetensorsView {
    public var dtype: DType { .f32 }
    public var byteCount: Int { values.count * 4 }

    public func writeBytes(_ write: (UnsafeRawBufferPointer) throws -> Void) throws {
        try values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { try write($0) }
    }
}
