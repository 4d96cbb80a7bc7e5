import FuzzSupport
import LatteCore
import LatteMapper

// Mapping files: rename rules with `{l}` placeholders, extra prefixes.
runFuzzer { bytes in
    guard let json = try? JSON.parse(bytes), let mapping = try? NameMapping(json: json) else { return }
    for name in ["model.language_model.layers.3.self_attn.q_proj.weight", "language_model.model.embed_tokens.weight", "x"] {
        _ = mapping.canonicalName(of: name)
        _ = mapping.isDeclaredExtra(name)
    }
}
