/// A model's `config.json`, read once (at most `maxBytes`, parsed strictly): `convert`
/// plans and records the same document, and the mapper checks it as a LaTtE-Flow config.
public struct ConfigFile: Sendable {
    /// The file it was read from, for messages.
    public let path: String
    public let json: JSONValue

    /// Largest config read: real ones are a few KiB.
    public static let maxBytes = 1 << 20

    /// Reads `path`. Throws `FileAccessError`, or a `LocatedError` with a `ConfigFileError`.
    public init(path: String) throws {
        do { json = try JSON.load(path: path, maxBytes: Self.maxBytes) } catch let e as JSONError {
            if case let .tooLarge(size, _) = e { throw LocatedError(path: path, ConfigFileError.tooLarge(size)) }
            throw LocatedError(path: path, ConfigFileError.notJSON(e))
        }
        self.path = path
    }
}

/// Why a config file could not be read.
public enum ConfigFileError: Error, Equatable, CustomStringConvertible {
    case tooLarge(Int)
    case notJSON(JSONError)

    public var description: String {
        switch self {
        case let .tooLarge(n): "config is \(n) bytes, larger than the 1 MiB limit"
        case let .notJSON(e): "config is not valid JSON: \(e)"
        }
    }
}
