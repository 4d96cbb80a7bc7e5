import LatteSystem
import LatteCore

/// A sharded checkpoint's index (`model.safetensors.index.json` or
/// `pytorch_model.bin.index.json`): which shard file holds each tensor.
public struct ShardedIndex: Sendable {
    /// The index file's path.
    public var path: String
    /// String-valued members of the index's `metadata` object (`total_size` included).
    public var metadata: [String: String]
    /// Tensor name to shard (an index into `shards`), in index order.
    public var weightMap: [(tensor: String, shard: Int)]
    /// Distinct shard names in order of first appearance.
    public var shards: [String]

    /// Largest index file accepted: a weight map of millions of names fits well inside.
    public static let maxIndexSize = 256 << 20

    /// Parses a mapped index file, read in place. Shard names must be plain file names or
    /// relative paths that stay inside the index's folder.
    public static func parse(file: MappedFile) throws -> ShardedIndex {
        let tree: JSONTree
        do { tree = try JSON.loadTree(file, maxBytes: maxIndexSize) } catch {
            if case let .tooLarge(size, _) = error { throw LocatedError(path: file.path, ShardedIndexError.tooLarge(size)) }
            throw LocatedError(path: file.path, ShardedIndexError.notJSON(error))
        }
        return try parse(tree, path: file.path)
    }

    /// Parses index text in memory; `path` locates the index in messages.
    public static func parse(bytes: UnsafeRawBufferPointer, path: String) throws -> ShardedIndex {
        guard bytes.count <= maxIndexSize else { throw LocatedError(path: path, ShardedIndexError.tooLarge(bytes.count)) }
        let tree: JSONTree
        do { tree = try JSON.parseTree(bytes) } catch { throw LocatedError(path: path, ShardedIndexError.notJSON(error)) }
        return try parse(tree, path: path)
    }

    private static func parse(_ tree: JSONTree, path: String) throws -> ShardedIndex {
        try withExtendedLifetime(tree) {
            let root = tree.root
            guard root.isObject else { throw LocatedError(path: path, ShardedIndexError.notObject(found: root.typeName)) }
            var metadata: [String: String] = [:]
            var weightMapNode: JSONNode?
            try root.forEachMember { name, node in
                if name.equals("weight_map") { weightMapNode = node }
                guard name.equals("metadata") else { return }
                guard case let .object(kv) = node.value else { throw LocatedError(path: path, ShardedIndexError.badMetadata) }
                for (k, v) in kv {
                    switch v {
                    case let .string(s): metadata[k] = s
                    case .int, .uint, .double, .bool: metadata[k] = v.serialized()
                    default: continue
                    }
                }
            }
            guard let wm = weightMapNode else { throw LocatedError(path: path, ShardedIndexError.missingWeightMap) }
            guard wm.isObject else { throw LocatedError(path: path, ShardedIndexError.weightMapNotObject) }
            var weightMap: [(String, Int)] = []
            weightMap.reserveCapacity(wm.count)
            var shards: [String] = []
            var shardNumber: [String: Int] = [:]
            var last: (node: JSONNode, number: Int)?
            try wm.forEachMember { cName, v in
                // Indexes list a shard's tensors together: most entries name the same shard as
                // the one before, found without building a string.
                let name = cName.string
                // A NUL would cut the name (or the shard's path) short wherever a C string carries it.
                guard !name.utf8.contains(0) else { throw LocatedError(path: path, ShardedIndexError.nameHasNUL(name)) }
                if let l = last, v.sameString(as: l.node) {
                    weightMap.append((name, l.number))
                    return
                }
                guard let shard = v.string else {
                    throw LocatedError(path: path, tensor: name, ShardedIndexError.shardNotString(found: v.typeName))
                }
                let number: Int
                if let n = shardNumber[shard] {
                    number = n
                } else {
                    guard isSafeRelativePath(shard), !shard.utf8.contains(0) else {
                        throw LocatedError(path: path, tensor: name, ShardedIndexError.shardOutsideFolder(shard))
                    }
                    number = shards.count
                    shardNumber[shard] = number
                    shards.append(shard)
                }
                last = (v, number)
                weightMap.append((name, number))
            }
            return ShardedIndex(path: path, metadata: metadata, weightMap: weightMap, shards: shards)
        }
    }

    /// Opens every shard with `readShard` and checks the index against what the shards hold:
    /// each shard present, each indexed tensor in its shard and only there, no tensor in two shards.
    /// Errors of a shard name the shard (`readShard` locates them); the others name the index.
    static func open(
        _ index: ShardedIndex, format: CheckpointFormat, configPath: String?,
        readShard: (MappedFile, Int) throws -> (tensors: [TensorEntry], metadata: [String: String], skipped: [String])
    ) throws -> Checkpoint {
        let path = index.path
        let folder = parentFolder(of: path)
        var files: [MappedFile] = []
        var tensors: [TensorEntry] = []
        // Where each tensor was found: its position in `tensors` and its shard's number.
        var found: [String: (position: Int, shard: Int)] = [:]
        var skipped: [String] = []
        var metadata = index.metadata
        for (number, shard) in index.shards.enumerated() {
            let shardPath = folder + shard
            // Only a shard that is not there is "missing"; opening it names any other reason.
            guard access(shardPath, F_OK) == 0 || errno != ENOENT else { throw LocatedError(path: path, ShardedIndexError.missingShard(shard)) }
            let file = try MappedFile(path: shardPath)
            let (shardTensors, shardMeta, shardSkipped) = try readShard(file, files.count)
            files.append(file)
            for (k, v) in shardMeta where metadata[k] == nil { metadata[k] = v }
            skipped += shardSkipped.map { "\(shard):\($0)" }
            found.reserveCapacity(found.count + shardTensors.count)
            for t in shardTensors {
                if let first = found.updateValue((tensors.count, number), forKey: t.name) {
                    throw LocatedError(path: path, tensor: t.name,
                                       ShardedIndexError.tensorInTwoShards(first: index.shards[first.shard], second: shard))
                }
                tensors.append(t)
            }
        }
        var ordered: [TensorEntry] = []
        ordered.reserveCapacity(tensors.count)
        for (name, shard) in index.weightMap {
            guard let at = found[name] else {
                throw LocatedError(path: path, tensor: name, ShardedIndexError.tensorMissingFromShard(index.shards[shard]))
            }
            guard at.shard == shard else {
                throw LocatedError(path: path, tensor: name,
                                   ShardedIndexError.tensorInOtherShard(indexed: index.shards[shard], found: index.shards[at.shard]))
            }
            ordered.append(tensors[at.position])
        }
        // The weight map's names are distinct (JSON keys) and all found: any tensor left over
        // is in a shard but not in the index.
        if ordered.count < tensors.count {
            var listed = [Bool](repeating: false, count: tensors.count)
            for (name, _) in index.weightMap { listed[found[name]!.position] = true }
            let t = tensors[listed.firstIndex(of: false)!]
            throw LocatedError(path: path, tensor: t.name, ShardedIndexError.tensorNotIndexed(shard: index.shards[found[t.name]!.shard]))
        }
        return Checkpoint(format: format, files: files, metadata: metadata, tensors: ordered,
                          skippedLeaves: skipped, configPath: configPath)
    }
}

/// What can be wrong with a sharded checkpoint's index.
public enum ShardedIndexError: Error, Equatable, CustomStringConvertible {
    case tooLarge(Int)
    case notJSON(JSONError)
    case notObject(found: String)
    case badMetadata
    case missingWeightMap
    case weightMapNotObject
    case shardNotString(found: String)
    case shardOutsideFolder(String)
    case missingShard(String)
    case tensorMissingFromShard(String)
    case tensorInOtherShard(indexed: String, found: String)
    case tensorInTwoShards(first: String, second: String)
    case tensorNotIndexed(shard: String)
    case nameHasNUL(String)

    public var description: String {
        switch self {
        case let .tooLarge(n): "index is \(n) bytes, larger than the \(ShardedIndex.maxIndexSize)-byte limit"
        case let .notJSON(e): "index is not valid JSON: \(e)"
        case let .notObject(f): "index must be a JSON object, found \(f)"
        case .badMetadata: "index 'metadata' must be an object"
        case .missingWeightMap: "index has no 'weight_map'"
        case .weightMapNotObject: "index 'weight_map' must be an object of tensor name to shard file"
        case let .shardNotString(f): "shard name must be a string, found \(f)"
        case let .shardOutsideFolder(s): "shard '\(escapingControlCharacters(s))' is not a file inside the index's folder"
        case let .missingShard(s): "shard '\(escapingControlCharacters(s))' named by the index does not exist"
        case let .tensorMissingFromShard(s): "listed in the index but absent from shard '\(escapingControlCharacters(s))'"
        case let .tensorInOtherShard(i, f): "the index puts it in '\(escapingControlCharacters(i))' but it is in '\(escapingControlCharacters(f))'"
        case let .tensorInTwoShards(a, b): "present in two shards, '\(escapingControlCharacters(a))' and '\(escapingControlCharacters(b))'"
        case let .tensorNotIndexed(s): "present in shard '\(escapingControlCharacters(s))' but not listed in the index"
        case let .nameHasNUL(n): "tensor '\(escapingControlCharacters(n))' in 'weight_map': the name contains a NUL character"
        }
    }
}
