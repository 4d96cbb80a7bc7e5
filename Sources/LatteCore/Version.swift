/// The tool's version, recorded in `.latte` provenance and printed by `latte --version`.
public let latteVersion = "0.1.0"
