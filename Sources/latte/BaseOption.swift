import ArgumentParser
import LatteCore
import LatteReaders

/// `--base BASE` of `export`, `verify`, `run` and `inspect`: the checkpoint a `.latte` file's
/// base references resolve against (any checkpoint `latte` reads: safetensors, a sharded
/// folder, a PyTorch file).
struct BaseOption: ParsableArguments {
    @Option(help: "The base checkpoint the file was converted against (convert --base): tensors stored in it are read from it, their hashes checked.")
    var base: String?

    /// The opened base, or nil when none was given.
    func open() throws -> Checkpoint? { try base.map { try CheckpointReader.open(path: $0) } }
}
