/// What `latte inspect` shows of a checkpoint or `.latte` file, independent of how it is
/// printed (a table for people, `--json` for scripts, see docs/CLI.md).
public struct InspectReport: Sendable {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var nbytes: Int
        /// Bytes as stored in a `.latte` file (nil for other formats).
        public var storedBytes: Int?
        public var group: Int?
        public var role: String?
        /// `.latte` files: the base tensor's name when the tensor is stored in the base.
        public var base: String?
        /// `.latte` files: how many of the tensor's chunks are twin deltas.
        public var deltaChunks: Int?

        public init(name: String, dtype: DType, shape: [Int], nbytes: Int, storedBytes: Int? = nil, group: Int? = nil, role: String? = nil,
                    base: String? = nil, deltaChunks: Int? = nil) {
            self.base = base
            self.deltaChunks = deltaChunks
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.nbytes = nbytes
            self.storedBytes = storedBytes
            self.group = group
            self.role = role
        }
    }

    public var format: CheckpointFormat
    public var files: [String]
    public var metadata: [String: String]
    public var tensors: [Tensor]
    public var skippedLeaves: [String]
    /// Extra top-level members (e.g. `groups` of a mapped `.latte` file), kept in order.
    public var extra: [(String, JSONValue)]

    public init(format: CheckpointFormat, files: [String], metadata: [String: String], tensors: [Tensor],
                skippedLeaves: [String] = [], extra: [(String, JSONValue)] = []) {
        self.format = format
        self.files = files
        self.metadata = metadata
        self.tensors = tensors
        self.skippedLeaves = skippedLeaves
        self.extra = extra
    }

    /// The report of an opened checkpoint.
    public init(_ c: Checkpoint) {
        self.init(format: c.format, files: c.files.map(\.path), metadata: c.metadata,
                  tensors: c.tensors.map { Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, nbytes: $0.byteCount) },
                  skippedLeaves: c.skippedLeaves)
    }

    public var totalBytes: Int { tensors.reduce(0) { $0 + $1.nbytes } }
    public var totalParameters: Int { tensors.reduce(0) { $0 + (elementCount(of: $1.shape) ?? 0) } }

    /// The `inspect --json` document.
    public func json(includeTensors: Bool = true) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("format", .string(format.rawValue)),
            ("files", .array(files.map { .string($0) })),
            ("metadata", .object(metadata.keys.sorted().map { ($0, .string(metadata[$0]!)) })),
        ]
        if includeTensors {
            members.append(("tensors", .array(tensors.map { t in
                var m: [(String, JSONValue)] = [
                    ("name", .string(t.name)), ("dtype", .string(t.dtype.name)),
                    ("shape", .array(t.shape.map { .int(Int64($0)) })), ("nbytes", .int(Int64(t.nbytes))),
                ]
                if let s = t.storedBytes { m.append(("stored_bytes", .int(Int64(s)))) }
                if let g = t.group { m.append(("group", .int(Int64(g)))) }
                if let r = t.role { m.append(("role", .string(r))) }
                if let b = t.base { m.append(("base", .string(b))) }
                if let d = t.deltaChunks { m.append(("delta_chunks", .int(Int64(d)))) }
                return .object(m)
            })))
        }
        members.append(("summary", .object([
            ("tensors", .int(Int64(tensors.count))),
            ("parameters", .int(Int64(totalParameters))),
            ("bytes", .int(Int64(totalBytes))),
            ("bytes_per_dtype", .object(bytesPerDType.map { ($0.0.name, .int(Int64($0.1))) })),
            ("skipped_leaves", .array(skippedLeaves.map { .string($0) })),
        ])))
        members += extra
        return .object(members)
    }

    /// Bytes per dtype, largest first.
    public var bytesPerDType: [(DType, Int)] {
        var acc: [DType: Int] = [:]
        for t in tensors { acc[t.dtype, default: 0] += t.nbytes }
        return acc.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key.name < $1.key.name }
    }
}
