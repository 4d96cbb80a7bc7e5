import LatteCore

/// Opens any supported checkpoint: detects the container from the bytes (never from the
/// file name) and hands it to the matching reader.
public enum CheckpointReader {
    /// What the first bytes of a file say it is.
    public enum Kind: Equatable, Sendable {
        case safetensors
        case zipArchive
        case pytorchLegacy
        case shardIndex
        case gitLFSPointer
    }

    /// Opens `path`: a weights file, a sharded index, or a folder holding one of these
    /// (and usually `config.json`).
    public static func open(path: String) throws -> Checkpoint {
        if isDirectory(path) {
            let folder = path.hasSuffix("/") ? path : path + "/"
            let weights = try weightsFile(inFolder: folder)
            return try open(file: weights, configPath: fileExists(folder + "config.json") ? folder + "config.json" : nil)
        }
        // No existence check here: opening the file says why it cannot be read (missing, a
        // symlink loop, a FIFO, a device, no permission).
        let beside = parentFolder(of: path) + "config.json"
        return try open(file: path, configPath: fileExists(beside) ? beside : nil)
    }

    static func open(file path: String, configPath: String?) throws -> Checkpoint {
        switch try detect(path: path) {
        case .safetensors:
            return try SafetensorsReader.open(path: path, configPath: configPath)
        case .shardIndex:
            let index = try ShardedIndex.parse(path: path)
            let isSafetensors = index.shards.allSatisfy { $0.hasSuffix(".safetensors") }
            if isSafetensors {
                return try ShardedIndex.open(path: path, format: .safetensorsSharded, configPath: configPath) { file, i in
                    do {
                        let h = try SafetensorsReader.parseHeader(in: file, fileIndex: i)
                        return (h.tensors, h.metadata, [])
                    } catch { throw LocatedError(path: file.path, error) }
                }
            }
            return try ShardedIndex.open(path: path, format: .pytorchSharded, configPath: configPath) { file, i in
                let c = try TorchReader.read(file: file, fileIndex: i)
                return (c.tensors, c.metadata, c.skipped)
            }
        case .zipArchive:
            let file = try MappedFile(path: path)
            let c = try TorchReader.read(file: file, fileIndex: 0)
            return Checkpoint(format: c.format, files: [file], metadata: c.metadata, tensors: c.tensors,
                              skippedLeaves: c.skipped, configPath: configPath)
        case .pytorchLegacy:
            let file = try MappedFile(path: path)
            let c = try TorchReader.read(file: file, fileIndex: 0)
            return Checkpoint(format: c.format, files: [file], metadata: c.metadata, tensors: c.tensors,
                              skippedLeaves: c.skipped, configPath: configPath)
        case .gitLFSPointer:
            throw LocatedError(path: path, CheckpointDetectionError.gitLFSPointer)
        }
    }

    /// Looks at the first bytes of `path` to tell what kind of file it is.
    public static func detect(path: String) throws -> Kind {
        let file = try MappedFile(path: path)
        return detect(bytes: file.bytes)
    }

    /// The magic-number sniffing behind `detect(path:)`.
    public static func detect(bytes b: UnsafeRawBufferPointer) -> Kind {
        func starts(with prefix: [UInt8]) -> Bool { b.count >= prefix.count && zip(b, prefix).allSatisfy { $0 == $1 } }
        if starts(with: Array("version https://git-lfs.github.com/spec/".utf8)) { return .gitLFSPointer }
        // Zip archives (torch.save, torch.export, TorchScript; TorchReader tells them apart).
        if starts(with: [0x50, 0x4B, 0x03, 0x04]) || starts(with: [0x50, 0x4B, 0x05, 0x06]) { return .zipArchive }
        // Safetensors before pickles: a header length of 0x0280..0x05FF bytes also starts with
        // 0x80 0x02..0x05. A plausible length followed by '{' settles it.
        if b.count >= 9 {
            let n = b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
            if n > 0, n <= UInt64(b.count - 8) {
                var j = 8
                while j < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[j]) { j += 1 }
                if j < b.count, b[j] == UInt8(ascii: "{") { return .safetensors }
            }
        }
        // Legacy torch.save: a pickle (protocol 2 and up) whose first value should be the
        // LONG1 magic number; the legacy reader checks it and says so when it is not.
        if starts(with: [0x80]) && b.count > 1 && b[1] >= 2 && b[1] <= 5 { return .pytorchLegacy }
        var i = 0
        while i < b.count, [0x20, 0x09, 0x0A, 0x0D].contains(b[i]) { i += 1 }
        if i < b.count, b[i] == UInt8(ascii: "{") { return .shardIndex }
        // Anything else is read as safetensors, whose reader explains precisely what is wrong.
        return .safetensors
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

/// Why a path could not be matched to a reader.
public enum CheckpointDetectionError: Error, Equatable, CustomStringConvertible {
    case noSuchFile
    case gitLFSPointer
    case noWeightsInFolder
    case severalWeightsInFolder([String])

    public var description: String {
        switch self {
        case .noSuchFile: "no such file or folder"
        case .gitLFSPointer: "a Git LFS pointer, not the weights (run `git lfs pull` to fetch them)"
        case .noWeightsInFolder: "no weights file (safetensors, .bin, .pt, .pth, .pt2 or an index) in this folder"
        case let .severalWeightsInFolder(names): "several weights files and no index to choose: \(names.joined(separator: ", "))"
        }
    }
}
