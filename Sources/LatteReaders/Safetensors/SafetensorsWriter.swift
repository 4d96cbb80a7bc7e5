import LatteCore

/// What a safetensors header records of one tensor: enough to lay a file out before any of
/// its bytes exist (export decodes them straight into place).
public protocol SafetensorsHeaderEntry {
    var name: String { get }
    var dtype: DType { get }
    var shape: [Int] { get }
    /// The tensor's size in the data section, in bytes.
    var byteCount: Int { get }
}

/// One tensor the safetensors writer writes whole: its header entry and its bytes (the
/// safetensors crate's `View`).
public protocol SafetensorsView: SafetensorsHeaderEntry {
    /// Hands the tensor's `byteCount` bytes to `write`, in order, in one piece or several
    /// (a large tensor need not be held whole).
    func writeBytes(_ write: (UnsafeRawBufferPointer) throws -> Void) throws
}

/// Writes safetensors files, as `SafetensorsReader` reads them: an 8-byte little-endian
/// header length, the JSON header (`__metadata__` first when there is any, then each tensor
/// in the order given, offsets contiguous from 0), space-padded to a multiple of 8 as the
/// reference implementation writes it (so the data starts aligned), then the data.
public enum SafetensorsWriter {
    /// A file's layout: everything before the data, and where each tensor's bytes go.
    public struct Layout: Sendable {
        /// The header length and the padded JSON header: the file's first `dataStart` bytes.
        public var headerBytes: [UInt8]
        /// Each tensor's bytes within the data section, in the order the tensors were given.
        public var dataRanges: [Range<Int>]

        /// Where the data section begins in the file.
        public var dataStart: Int { headerBytes.count }
        /// The data section's size: every tensor's bytes.
        public var dataSize: Int { dataRanges.last?.upperBound ?? 0 }
    }

    /// The layout of a file of `tensors` and `metadata`. Refuses a header over the size the
    /// readers accept (`TensorRules.maxSafetensorsHeaderSize`); the caller locates the error.
    public static func layout<Entries: Sequence>(
        _ tensors: Entries, metadata: [(String, String)] = []
    ) throws(UnreadableOutputError) -> Layout where Entries.Element: SafetensorsHeaderEntry {
        var members: [(String, JSONValue)] = []
        if !metadata.isEmpty {
            members.append((TensorRules.metadataKey, .object(metadata.map { ($0.0, .string($0.1)) })))
        }
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(tensors.underestimatedCount)
        var offset = 0
        for t in tensors {
            members.append((t.name, .object([
                ("dtype", .string(t.dtype.name)),
                ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + t.byteCount))])),
            ])))
            ranges.append(offset ..< offset + t.byteCount)
            offset += t.byteCount
        }
        var json = Array(JSONValue.object(members).serialized().utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        guard json.count <= TensorRules.maxSafetensorsHeaderSize else {
            throw .tooLarge(what: "the safetensors header", size: json.count, limit: TensorRules.maxSafetensorsHeaderSize)
        }
        var header: [UInt8] = []
        header.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { header.append(contentsOf: $0) }
        header += json
        return Layout(headerBytes: header, dataRanges: ranges)
    }

    /// Writes a whole file of `tensors` and `metadata` through `write`, piece by piece: the
    /// header, then each tensor's bytes in turn. A tensor that hands out other than its
    /// `byteCount` bytes is refused (`SafetensorsWriteError`), before the next is written.
    public static func write<View: SafetensorsView>(
        _ tensors: [View], metadata: [(String, String)] = [],
        to write: (UnsafeRawBufferPointer) throws -> Void
    ) throws {
        let layout = try layout(tensors, metadata: metadata)
        try layout.headerBytes.withUnsafeBytes { try write($0) }
        for t in tensors {
            var given = 0
            try t.writeBytes { piece in
                given += piece.count
                guard given <= t.byteCount else { throw SafetensorsWriteError.wrongByteCount(tensor: t.name, header: t.byteCount, given: given) }
                try write(piece)
            }
            guard given == t.byteCount else { throw SafetensorsWriteError.wrongByteCount(tensor: t.name, header: t.byteCount, given: given) }
        }
    }

    /// A whole file of `tensors` and `metadata` in memory, for small outputs.
    public static func bytes<View: SafetensorsView>(_ tensors: [View], metadata: [(String, String)] = []) throws -> [UInt8] {
        var out: [UInt8] = []
        try write(tensors, metadata: metadata) { out.append(contentsOf: $0) }
        return out
    }
}

/// Why the safetensors writer stopped: what a tensor handed it does not match its header.
public enum SafetensorsWriteError: Error, Equatable, CustomStringConvertible {
    /// The tensor handed out `given` bytes (at least) where its header entry says `header`.
    case wrongByteCount(tensor: String, header: Int, given: Int)

    public var description: String {
        switch self {
        case let .wrongByteCount(t, header, given):
            "tensor '\(escapingControlCharacters(t))': \(given) bytes handed to the writer, its header entry says \(header)"
        }
    }
}
