/// A tensor-name pattern: literal text with at most one `{l}`, which stands for a layer
/// number written in decimal without leading zeros (`0`, `7`, `27`, never `07`).
///
/// Patterns match a *prefix* of a name: `model.language_model.layers.{l}.` matches
/// `model.language_model.layers.3.mlp.up_proj.weight`, leaving `mlp.up_proj.weight`.
public struct LayerPattern: Sendable, Equatable, CustomStringConvertible {
    /// Text before the placeholder (all of it when there is none).
    public let head: String
    /// Text after the placeholder; nil when the pattern has no placeholder.
    public let tail: String?

    /// What a pattern matched: the layer (when the pattern has a placeholder) and the rest of the name.
    public struct Match: Sendable, Equatable {
        public var layer: Int?
        public var rest: Substring

        public init(layer: Int?, rest: Substring) {
            self.layer = layer
            self.rest = rest
        }
    }

    /// Parses `text`; nil when it has more than one placeholder or a brace that is not part of one.
    public init?(_ text: String) {
        let parts = text.split(separator: ReferenceTensors.layerPlaceholder, omittingEmptySubsequences: false)
        guard parts.count <= 2, parts.allSatisfy({ !$0.contains("{") && !$0.contains("}") }) else { return nil }
        head = String(parts[0])
        tail = parts.count == 2 ? String(parts[1]) : nil
    }

    /// True when the pattern has the `{l}` placeholder.
    public var hasPlaceholder: Bool { tail != nil }

    public var description: String { tail.map { head + ReferenceTensors.layerPlaceholder + $0 } ?? head }

    /// Matches the pattern against the start of `name`.
    public func matchPrefix(of name: String) -> Match? {
        guard name.hasPrefix(head) else { return nil }
        var rest = name.dropFirst(head.count)
        guard let tail else { return Match(layer: nil, rest: rest) }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 9, digits == "0" || !digits.hasPrefix("0"), let layer = Int(digits) else { return nil }
        rest = rest.dropFirst(digits.count)
        guard rest.hasPrefix(tail) else { return nil }
        return Match(layer: layer, rest: rest.dropFirst(tail.count))
    }

    /// The pattern's text with the placeholder replaced by `layer` (or the text itself when
    /// it has no placeholder).
    public func render(layer: Int?) -> String {
        guard let tail else { return head }
        return head + (layer.map(String.init) ?? ReferenceTensors.layerPlaceholder) + tail
    }
}
