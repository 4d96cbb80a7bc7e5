import LatteCore

/// A tensor stored in the base checkpoint (FORMAT.md, "Base references"): the base's name
/// for it and the hashes of its bytes, which a reader checks against the base it is given.
public struct BaseReference: Sendable, Hashable {
    /// The tensor's name in the base (a `--mapping` may have renamed the source's).
    public var name: String
    /// XXH64 (seed 0) of the raw bytes: the tensor's own `xxh64`.
    public var checksum: UInt64
    /// SHA-256 of the raw bytes, 64 lowercase hex digits (checked by `verify`).
    public var sha256: String

    public init(name: String, checksum: UInt64, sha256: String) {
        self.name = name
        self.checksum = checksum
        self.sha256 = sha256
    }

    var json: JSONValue {
        .object([("name", .string(name)), ("xxh64", .string(hex64(checksum))), ("sha256", .string(sha256))])
    }
}

/// One file of the base checkpoint, as the writer saw it: the file's name (its last path
/// component), size and SHA-256. Messages name it so a user can find the right base.
public struct BaseFile: Sendable, Equatable {
    public var name: String
    public var size: Int
    public var sha256: String

    public init(name: String, size: Int, sha256: String) {
        self.name = name
        self.size = size
        self.sha256 = sha256
    }

    static func json(_ files: [BaseFile]) -> JSONValue {
        .object([("files", .array(files.map { f in
            .object([("name", .string(f.name)), ("size", .int(Int64(f.size))), ("sha256", .string(f.sha256))])
        }))])
    }

    /// "FILE (N bytes, sha256 …)", and how many more files there are.
    static func describe(_ files: [BaseFile]) -> String {
        guard let f = files.first else { return "not recorded" }
        let more = files.count > 1 ? " and \(files.count - 1) more file\(files.count > 2 ? "s" : "")" : ""
        return "\(f.name) (\(f.size) bytes, sha256 \(f.sha256))\(more)"
    }
}

/// The feature a file with references requires, and the minor version it is written with.
enum BaseFormat {
    static let feature = "base-ref"
    static let minorVersion: UInt16 = 2
    /// Readers refuse more base files than this (a sharded base has a few dozen).
    static let maxFiles = 100_000

    /// Whether `s` is `count` lowercase hex digits.
    static func isHex(_ s: String, count: Int) -> Bool {
        s.utf8.count == count && s.utf8.allSatisfy { (48 ... 57).contains($0) || (97 ... 102).contains($0) }
    }
}

extension ManifestParser {
    /// A tensor's `base` member: an object with a valid name and both hashes, the XXH64 the
    /// tensor's own; the entry then has neither `chunks` nor `twin`.
    func baseReference(_ v: JSONNode, tensor t: JSONNode, name: String, checksum: UInt64) throws(LatteFileError) -> BaseReference {
        func bad(_ why: String) -> LatteFileError { .tensorEntryInvalid(tensor: name, reason: why) }
        guard v.isObject else { throw bad("\"base\" must be an object with name, xxh64 and sha256") }
        guard let ref = v["name"]?.stringValue, !ref.isEmpty else { throw bad("\"base\" needs the base tensor's name") }
        if let why = TensorRules.nameProblem(ref) { throw bad("\"base\" name: \(why)") }
        guard let sum = v["xxh64"]?.stringValue.flatMap(parseHex64) else { throw bad("\"base\" xxh64 must be 16 lowercase hex digits") }
        guard sum == checksum else { throw bad("\"base\" xxh64 \(hex64(sum)) differs from the tensor's \(hex64(checksum))") }
        guard let sha = v["sha256"]?.stringValue, BaseFormat.isHex(sha, count: 64) else {
            throw bad("\"base\" sha256 must be 64 lowercase hex digits")
        }
        guard t["chunks"] == nil else { throw bad("a tensor stored in the base has no \"chunks\"") }
        guard t["twin"] == nil else { throw bad("a tensor stored in the base has no \"twin\"") }
        return BaseReference(name: ref, checksum: sum, sha256: sha)
    }

    /// The manifest's `base` member, when present: `{"files": [{name, size, sha256}, …]}`.
    func baseFiles(_ v: JSONNode?) throws(LatteFileError) -> [BaseFile]? {
        guard let v else { return nil }
        guard let arr = v["files"]?.arrayValue, !arr.isEmpty, arr.count <= BaseFormat.maxFiles else {
            throw .manifestInvalid("\"base\" must be {\"files\": [...]} with 1...\(BaseFormat.maxFiles) files")
        }
        var files: [BaseFile] = []
        for (i, f) in arr.enumerated() {
            guard let name = f["name"]?.stringValue, !name.isEmpty, name.utf8.count <= 4096, !name.utf8.contains(0) else {
                throw .manifestInvalid("base file \(i) needs a name (1 to 4096 bytes, no NUL)")
            }
            guard let size = f["size"]?.intValue, size >= 0 else { throw .manifestInvalid("base file '\(name)' needs a non-negative size") }
            guard let sha = f["sha256"]?.stringValue, BaseFormat.isHex(sha, count: 64) else {
                throw .manifestInvalid("base file '\(name)': sha256 must be 64 lowercase hex digits")
            }
            files.append(BaseFile(name: name, size: size, sha256: sha))
        }
        return files
    }
}

/// The manifest's reference rules, once every tensor is parsed: a file with references
/// records its base and requires `base-ref` (so that no reader takes it for a whole model),
/// and no two references name one base tensor. With the twin rules (a twin is the twin of
/// one tensor), reading a whole file reads each base tensor at most twice: its work is
/// bounded by its own size (section 2's ratio bound) plus twice the base's, however many
/// references a hostile manifest lists.
enum BaseRules {
    static func check(_ tensors: [LatteTensor], files: [BaseFile]?, required: [String]) throws(LatteFileError) {
        guard let t = tensors.first(where: { $0.base != nil }) else { return }
        guard files != nil else { throw .tensorEntryInvalid(tensor: t.name, reason: "it is stored in the base, and the manifest records no \"base\"") }
        guard required.contains(BaseFormat.feature) else {
            throw .tensorEntryInvalid(tensor: t.name, reason: "it is stored in the base, and features.required lacks '\(BaseFormat.feature)'")
        }
        var named = Set<String>()
        for t in tensors {
            guard let ref = t.base else { continue }
            guard named.insert(ref.name).inserted else {
                throw .tensorEntryInvalid(tensor: t.name, reason: "its base tensor '\(ref.name)' is the reference of another tensor too")
            }
        }
    }
}
