import LatteCore

/// One rename of a mapping file: names starting with `from` get that start replaced by `to`,
/// the layer number carried over when both have the `{l}` placeholder.
public struct RenameRule: Sendable, Equatable {
    public let from: LayerPattern
    public let to: LayerPattern

    /// Checks the pair: `from` non-empty, each side at most one `{l}` and no other brace,
    /// and `{l}` on both sides or on neither.
    public init(from: String, to: String) throws(NameMappingError) {
        guard !from.isEmpty else { throw .badRule(from: from, to: to, "'from' is empty") }
        guard let f = LayerPattern(from) else {
            throw .badRule(from: from, to: to, "'from' may hold one {l} and no other brace")
        }
        guard let t = LayerPattern(to) else {
            throw .badRule(from: from, to: to, "'to' may hold one {l} and no other brace")
        }
        guard f.hasPlaceholder == t.hasPlaceholder else {
            throw .badRule(from: from, to: to, "{l} must appear in both 'from' and 'to' or in neither")
        }
        self.from = f
        self.to = t
    }

    /// The renamed name, or nil when the rule does not apply to `name`.
    public func apply(to name: String) -> String? {
        guard let m = from.matchPrefix(of: name) else { return nil }
        return to.render(layer: m.layer) + m.rest
    }
}

/// Naming rules: how a checkpoint's tensor names map onto the spec's canonical names.
///
/// The default (`.canonical`) keeps every name as is: the spec's names are the reference
/// model's own. A mapping file (schemas/mapping.schema.json) describes another convention:
/// ```json
/// {"rename": [{"from": "model.language_model.layers.{l}.", "to": "model.layers.{l}."}],
///  "extra": ["model.visual."]}
/// ```
/// The first rule whose `from` matches the start of a name renames it (once, no chaining);
/// names no rule matches are kept. Names starting with an `extra` prefix are foreign
/// tensors the convention is known to carry (a vision tower, an LM head): they are kept,
/// unrenamed, in the extra section without needing `--allow-extra`.
public struct NameMapping: Sendable, Equatable {
    public var rules: [RenameRule]
    public var extraPrefixes: [String]
    /// The file's `description`, if any.
    public var summary: String?

    public init(rules: [RenameRule] = [], extraPrefixes: [String] = [], summary: String? = nil) {
        self.rules = rules
        self.extraPrefixes = extraPrefixes
        self.summary = summary
    }

    /// The spec's own names: nothing renamed, nothing declared extra.
    public static let canonical = NameMapping()

    /// Largest mapping file read.
    public static let maxFileSize = 1 << 20

    /// Reads a mapping file; errors name the file.
    public static func load(path: String) throws -> NameMapping {
        let json: JSONValue
        do { json = try JSON.load(path: path, maxBytes: maxFileSize) } catch let e as JSONError {
            if case let .tooLarge(size, _) = e { throw LocatedError(path: path, NameMappingError.tooLarge(size)) }
            throw LocatedError(path: path, NameMappingError.notJSON(e))
        }
        do { return try NameMapping(json: json) } catch { throw LocatedError(path: path, error) }
    }

    /// Builds the rules from a mapping document, checking every member.
    public init(json: JSONValue) throws(NameMappingError) {
        guard let members = json.objectValue else { throw .notObject(found: json.typeName) }
        var rules: [RenameRule] = []
        var extra: [String] = []
        var summary: String?
        var sawRename = false
        for (key, value) in members {
            switch key {
            case "$schema":
                guard value.stringValue != nil else { throw .badMember(key, "must be a string") }
            case "description":
                guard let s = value.stringValue else { throw .badMember(key, "must be a string") }
                summary = s
            case "rename":
                sawRename = true
                guard let items = value.arrayValue else { throw .badMember(key, "must be an array of {\"from\", \"to\"} objects") }
                for (i, item) in items.enumerated() {
                    guard let fields = item.objectValue else { throw .badMember("rename[\(i)]", "must be an object with 'from' and 'to'") }
                    for (f, _) in fields where f != "from" && f != "to" {
                        throw .badMember("rename[\(i)]", "has an unknown member '\(f)'")
                    }
                    guard let from = item["from"]?.stringValue, let to = item["to"]?.stringValue else {
                        throw .badMember("rename[\(i)]", "needs string members 'from' and 'to'")
                    }
                    rules.append(try RenameRule(from: from, to: to))
                }
            case "extra":
                guard let items = value.arrayValue else { throw .badMember(key, "must be an array of name prefixes") }
                for (i, item) in items.enumerated() {
                    guard let s = item.stringValue, !s.isEmpty else { throw .badMember("extra[\(i)]", "must be a non-empty string") }
                    extra.append(s)
                }
            default:
                throw .badMember(key, "is not a mapping-file member (expected rename, extra, description, $schema)")
            }
        }
        guard sawRename else { throw .missingRename }
        self.init(rules: rules, extraPrefixes: extra, summary: summary)
    }

    /// The canonical name of the checkpoint tensor `source`.
    public func canonicalName(of source: String) -> String {
        for r in rules { if let renamed = r.apply(to: source) { return renamed } }
        return source
    }

    /// True when `source` starts with one of the declared extra prefixes.
    public func isDeclaredExtra(_ source: String) -> Bool {
        extraPrefixes.contains { source.hasPrefix($0) }
    }

    /// The mapping as a document of the mapping-file schema.
    public var json: JSONValue {
        var m: [(String, JSONValue)] = []
        if let summary { m.append(("description", .string(summary))) }
        m.append(("rename", .array(rules.map { .object([("from", .string($0.from.description)), ("to", .string($0.to.description))]) })))
        if !extraPrefixes.isEmpty { m.append(("extra", .array(extraPrefixes.map { .string($0) }))) }
        return .object(m)
    }
}

/// What is wrong with a mapping file.
public enum NameMappingError: Error, Equatable, CustomStringConvertible {
    case tooLarge(Int)
    case notJSON(JSONError)
    case notObject(found: String)
    case missingRename
    case badMember(String, String)
    case badRule(from: String, to: String, String)

    public var description: String {
        switch self {
        case let .tooLarge(n): "mapping file is \(n) bytes, larger than the 1 MiB limit"
        case let .notJSON(e): "mapping file is not valid JSON: \(e)"
        case let .notObject(t): "mapping file must be a JSON object, found \(t)"
        case .missingRename: "mapping file has no 'rename' list"
        case let .badMember(k, why): "mapping file '\(k)' \(why)"
        case let .badRule(f, t, why): "mapping rule {\"from\": \"\(f)\", \"to\": \"\(t)\"}: \(why)"
        }
    }
}
