import LatteCore
import LatteFormat
import LatteSystem

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

/// A minimal safetensors writer for the runtime's outputs: F32 tensors only, written to a
/// temporary file beside the destination and renamed over it when complete.
public enum OutputWriter {
    /// The file's bytes: header length, JSON header (space-padded to 8 bytes), data.
    public static func serialize(_ tensors: [OutputTensor]) -> [UInt8] {
        var members: [(String, JSONValue)] = []
        var offset = 0
        for t in tensors {
            let end = offset + t.values.count * 4
            members.append((t.name, .object([
                ("dtype", .string("F32")), ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(end))])),
            ])))
            offset = end
        }
        var headerBytes = Array(JSONValue.object(members).serialized().utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in tensors {
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Writes `tensors` to `path` atomically (a temporary file beside it, then rename),
    /// never over one of `inputs`.
    public static func write(_ tensors: [OutputTensor], to path: String, notOverwriting inputs: [String] = []) throws {
        try OutputTarget.check(path, notOverwriting: inputs)
        let output = try AtomicOutput(path: path)
        try output.write(serialize(tensors))
        try output.commit(sync: false)
    }
}
