import LatteCore

/// Opens any supported checkpoint: detects the container from the bytes (never from the
/// file name) and hands the mapped file to the matching reader. Each file is mapped once.
public enum CheckpointReader {
    /// What the first bytes of a file say it is.
    public enum Kind: Equatable, Sendable {
        case safetensors
        case zipArchive
        case pytorchLegacy
        case shardIndex
        case gitLFSPointer
        /// A `.latte` file: not a checkpoint (`LatteFile` reads it).
        case latte
        /// None of the formats latte reads.
        case unrecognized
    }

    /// A weights file mapped once, what its first bytes say it is, and the `config.json`
    /// found with it: `open(_:)` reads the same map.
    public struct DetectedFile: Sendable {
        public let kind: Kind
        public let file: MappedFile
        /// The `config.json` beside the weights (or in their folder), when there is one.
        public let configPath: String?
    }

    /// Opens `path`: a weights file, a sharded index, or a folder holding one of these
    /// (and usually `config.json`).
    public static func open(path: String) throws -> Checkpoint {
        try open(detect(path: path))
    }

    /// Resolves `path` (a folder to its weights file), maps the file and tells what it is.
    public static func detect(path: String) throws -> DetectedFile {
        if isDirectory(path) {
            let folder = path.hasSuffix("/") ? path : path + "/"
            let weights = try weightsFile(inFolder: folder)
            return try detect(file: weights, configPath: fileExists(folder + "config.json") ? folder + "config.json" : nil)
        }
        // No existence check here: mapping the file says why it cannot be read (missing, a
        // symlink loop, a FIFO, a device, no permission).
        let beside = parentFolder(of: path) + "config.json"
        return try detect(file: path, configPath: fileExists(beside) ? beside : nil)
    }

    static func detect(file path: String, configPath: String?) throws -> DetectedFile {
        let file = try MappedFile(path: path)
        return DetectedFile(kind: detect(bytes: file.bytes), file: file, configPath: configPath)
    }

    /// Reads a detected file with its reader. Errors are `LocatedError`s naming the file.
    public static func open(_ detected: DetectedFile) throws -> Checkpoint {
        let file = detected.file, configPath = detected.configPath
        switch detected.kind {
        case .safetensors:
            return try SafetensorsReader.open(region: file, configPath: configPath)
        case .shardIndex:
            let index = try ShardedIndex.parse(file: file)
            if index.shards.allSatisfy({ $0.hasSuffix(".safetensors") }) {
                return try ShardedIndex.open(index, format: .safetensorsSharded, configPath: configPath) { shard, i in
                    let h = try SafetensorsReader.header(of: shard, fileIndex: i)
                    return (h.tensors, h.metadata, [])
                }
            }
            return try ShardedIndex.open(index, format: .pytorchSharded, configPath: configPath) { shard, i in
                let c = try TorchReader.read(file: shard, fileIndex: i)
                return (c.tensors, c.metadata, c.skipped)
            }
        case .zipArchive, .pytorchLegacy:
            let c = try TorchReader.read(file: file, fileIndex: 0)
            return Checkpoint(format: c.format, files: [file], metadata: c.metadata, tensors: c.tensors,
                              skippedLeaves: c.skipped, configPath: configPath)
        case .gitLFSPointer:
            throw LocatedError(path: file.path, CheckpointDetectionError.gitLFSPointer)
        case .latte:
            throw LocatedError(path: file.path, CheckpointDetectionError.latteFile)
        case .unrecognized:
            throw LocatedError(path: file.path, CheckpointDetectionError.unrecognized(firstBytes: Array(file.bytes.prefix(16))))
        }
    }

    /// The magic-number sniffing behind `detect(path:)`.
    public static func detect(bytes b: UnsafeRawBufferPointer) -> Kind {
        if FileSignature.matches(b, FileSignature.gitLFSPointer) { return .gitLFSPointer }
        // Zip archives (torch.save, torch.export, TorchScript; TorchReader tells them apart).
        if FileSignature.isZip(b) { return .zipArchive }
        if FileSignature.matches(b, FileSignature.latte) { return .latte }
        // Safetensors before pickles: a header length of 0x0280..0x05FF bytes also starts with
        // 0x80 0x02..0x05. A plausible length followed by '{' settles it.
        let declared: UInt64? = b.count >= 8 ? b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian : nil
        let braceAfterLength = firstNonBlank(b, from: 8) == UInt8(ascii: "{")
        if let n = declared, n > 0, n <= UInt64(b.count - 8), braceAfterLength { return .safetensors }
        // Legacy torch.save: a pickle (protocol 2 and up) whose first value should be the
        // LONG1 magic number; the legacy reader checks it and says so when it is not.
        if LegacyTorchFormat.looksLikePickle(b) { return .pytorchLegacy }
        if firstNonBlank(b, from: 0) == UInt8(ascii: "{") { return .shardIndex }
        // What is left is safetensors only if it could be one, so that its reader's precise
        // errors apply: too short for the length, a length within the reader's limit, or a
        // header's '{' after a length past it. Anything else (a CTranslate2 model.bin, whose
        // version and spec name make a length of 10^18) is no format latte reads.
        guard let n = declared else { return .safetensors }
        return n <= UInt64(SafetensorsReader.maxHeaderSize) || braceAfterLength ? .safetensors : .unrecognized
    }

    /// The first byte at or after `start` that is not JSON whitespace.
    private static func firstNonBlank(_ b: UnsafeRawBufferPointer, from start: Int) -> UInt8? {
        var i = start
        while i < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[i]) { i += 1 }
        return i < b.count ? b[i] : nil
    }

    /// The weights file inside a checkpoint folder: an index first, then the usual names,
    /// then the only weights file there is.
    static func weightsFile(inFolder folder: String) throws -> String {
        for name in ["model.safetensors.index.json", "pytorch_model.bin.index.json", "model.safetensors", "pytorch_model.bin"]
        where fileExists(folder + name) {
            return folder + name
        }
        let candidates = directoryEntries(folder).filter { name in
            [".safetensors", ".bin", ".pt", ".pth", ".pt2", ".index.json"].contains { name.hasSuffix($0) } && fileExists(folder + name)
        }
        guard candidates.count == 1 else {
            throw LocatedError(path: folder, candidates.isEmpty ? CheckpointDetectionError.noWeightsInFolder
                : CheckpointDetectionError.severalWeightsInFolder(candidates))
        }
        return folder + candidates[0]
    }
}
