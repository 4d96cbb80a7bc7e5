/// The rules a tensor's name, shape and metadata must meet to be stored. The readers refuse a
/// file that breaks them and the writers refuse to write one, both by calling these, so that
/// whatever `convert` or `export` writes, latte reads back.
///
/// Invalid UTF-8 and unpaired surrogates have no rule here because a Swift `String` cannot
/// hold them: the readers turn the bytes of a file into strings, and refuse what is not text.
public enum TensorRules {
    /// Most dimensions a stored tensor may have; `.latte` readers refuse more. Far past any
    /// model's tensors, and it bounds what a shape costs to parse and to print.
    public static let maxRank = 64
    /// The safetensors header member that holds the string metadata: never a tensor's name.
    public static let metadataKey = "__metadata__"
    /// The reference safetensors implementation's limit on the JSON header's size, in bytes.
    public static let maxSafetensorsHeaderSize = 100_000_000

    /// Why `name` cannot be a stored tensor's (or embedded file's) name, or nil when it can.
    /// The empty name is allowed: both formats store it and read it back.
    public static func nameProblem(_ name: String) -> String? {
        if name == metadataKey { return "the name \(metadataKey) is reserved for the safetensors metadata" }
        return textProblem(name, what: "the name")
    }

    /// Why a metadata key or value cannot be stored, or nil when it can.
    public static func metadataProblem(key: String, value: String) -> String? {
        textProblem(key, what: "metadata key '\(key)'") ?? textProblem(value, what: "the value of metadata key '\(key)'")
    }

    /// Why a string cannot be stored: C strings (and json-c, latte's former JSON parser) end at
    /// a NUL, so an escaped NUL would cut a name short (and merge two names into one); readers
    /// refuse it everywhere.
    public static func textProblem(_ s: String, what: String) -> String? {
        s.utf8.contains(0) ? "\(what) contains a NUL character (\\u0000), which readers refuse" : nil
    }

    /// Why `shape` cannot be stored for a tensor of `dtype`, or nil when it can.
    public static func shapeProblem(_ shape: [Int], dtype: DType) -> String? {
        if shape.count > maxRank { return "rank \(shape.count) is more than the \(maxRank) dimensions a stored tensor may have" }
        if let d = shape.first(where: { $0 < 0 }) { return "negative dimension \(d)" }
        guard let n = elementCount(of: shape) else { return "the element count of shape \(shape) overflows" }
        guard dtype.byteCount(elements: n) != nil else { return "\(dtype.name) \(shape) does not make a whole number of bytes" }
        return nil
    }
}

/// Why a writer refused its output before writing it: the readers would refuse the file.
public enum UnreadableOutputError: Error, Equatable, CustomStringConvertible {
    /// A tensor's name, shape or size breaks a reader's rule (located by the caller).
    case tensor(String)
    /// A metadata key or value breaks a reader's rule.
    case metadata(String)
    case tooMany(what: String, count: Int, limit: Int)
    case tooLarge(what: String, size: Int, limit: Int)
    case tooDeep(depth: Int, limit: Int)

    public var description: String {
        switch self {
        case let .tensor(why): "cannot be stored: \(why)"
        case let .metadata(why): "metadata cannot be stored: \(why)"
        case let .tooMany(what, n, limit): "cannot be stored: \(n) \(what), more than the \(limit) readers accept"
        case let .tooLarge(what, n, limit): "cannot be stored: \(what) would be \(n) bytes, more than the \(limit) readers accept"
        case let .tooDeep(depth, limit):
            "cannot be stored: the recorded config would nest \(depth) levels deep in the manifest, more than the \(limit) JSON levels readers accept"
        }
    }
}
