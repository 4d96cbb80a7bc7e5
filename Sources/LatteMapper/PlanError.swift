import LatteCore

/// Why a checkpoint does not fit the model its config describes. Raised before anything
/// is written; each case names the tensor (as the checkpoint spells it) and what was
/// expected against what was found.
public enum PlanError: Error, Equatable, CustomStringConvertible {
    /// A tensor the config implies is not in the checkpoint.
    public struct Missing: Sendable, Equatable {
        /// The canonical name looked for.
        public var name: String
        public var expectedShape: [Int]

        public init(name: String, expectedShape: [Int]) {
            self.name = name
            self.expectedShape = expectedShape
        }
    }

    /// A checkpoint tensor that is not part of the model.
    public struct Unexpected: Sendable, Equatable {
        /// The name in the checkpoint.
        public var source: String
        /// The name after the mapping's renames, when it differs.
        public var canonical: String?
        /// Why it may be there (e.g. a layer beyond `num_hidden_layers`).
        public var hint: String?

        public init(source: String, canonical: String? = nil, hint: String? = nil) {
            self.source = source
            self.canonical = canonical
            self.hint = hint
        }
    }

    case missing([Missing])
    /// `tensor` is the checkpoint's name, `canonical` the spec's name when they differ.
    case wrongShape(tensor: String, canonical: String?, expected: [Int], found: [Int])
    case wrongDType(tensor: String, canonical: String?, found: DType)
    case unexpected([Unexpected])
    /// Several checkpoint tensors map onto one canonical name.
    case nameCollision(canonical: String, sources: [String])
    /// More than one of the above, in the order found.
    case several([PlanError])

    /// The floating types the reference model's tensors may be stored in.
    public static let allowedDTypes: [DType] = [.f32, .f16, .bf16, .f64]

    /// How many names a message lists before summarizing the rest.
    static let listLimit = 8

    /// The tensor a single-tensor error is about (the checkpoint's name).
    public var tensor: String? {
        switch self {
        case let .missing(m) where m.count == 1: m[0].name
        case let .wrongShape(t, _, _, _), let .wrongDType(t, _, _): t
        case let .unexpected(u) where u.count == 1: u[0].source
        default: nil
        }
    }

    public var description: String {
        switch self {
        case let .missing(list):
            let shown = list.prefix(Self.listLimit).map { "'\($0.name)' (expected shape \(shapeText($0.expectedShape)))" }
            let more = list.count > Self.listLimit ? " and \(list.count - Self.listLimit) more" : ""
            return (list.count == 1 ? "missing tensor " : "missing \(list.count) tensors: ") + shown.joined(separator: ", ") + more
        case let .wrongShape(t, c, e, f):
            return "tensor \(named(t, c)): expected shape \(shapeText(e)) from the config, found \(shapeText(f))"
        case let .wrongDType(t, c, d):
            return "tensor \(named(t, c)): expected a floating dtype (\(Self.allowedDTypes.map(\.name).joined(separator: ", "))), found \(d.name)"
        case let .unexpected(list):
            let shown = list.prefix(Self.listLimit).map { u in
                named(u.source, u.canonical) + (u.hint.map { " (\($0))" } ?? "")
            }
            let more = list.count > Self.listLimit ? " and \(list.count - Self.listLimit) more" : ""
            return (list.count == 1 ? "unexpected tensor " : "\(list.count) unexpected tensors: ") + shown.joined(separator: ", ") + more
                + " (not in the LaTtE-Flow reference model: --allow-extra keeps such tensors in an extra section, --mapping FILE renames another naming convention)"
        case let .nameCollision(c, sources):
            return "tensors \(sources.map { "'\($0)'" }.joined(separator: " and ")) both map to '\(c)'"
        case let .several(errors):
            let shown = errors.prefix(Self.listLimit).map(\.description)
            let more = errors.count > Self.listLimit ? "; and \(errors.count - Self.listLimit) more problems" : ""
            return "\(errors.count) problems: " + shown.joined(separator: "; ") + more
        }
    }
}

private func named(_ source: String, _ canonical: String?) -> String {
    guard let canonical, canonical != source else { return "'\(source)'" }
    return "'\(source)' (canonical '\(canonical)')"
}

func shapeText(_ s: [Int]) -> String { "[" + s.map(String.init).joined(separator: ", ") + "]" }
