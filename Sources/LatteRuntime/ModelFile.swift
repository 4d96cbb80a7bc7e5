import LatteCore
import LatteFormat
import LatteReaders

/// What a path given to `inspect`, `run` or `verify` holds: a `.latte` file or a
/// checkpoint, told apart by the bytes with one detection (the file mapped once).
public enum ModelFile {
    case latte(LatteFile)
    case checkpoint(Checkpoint)

    /// Opens `path`: a `.latte` file, a weights file, a sharded index, or a folder holding
    /// one; `base` resolves a `.latte` file's base references. Errors are `LocatedError`s naming the file.
    public static func open(path: String, base: Checkpoint? = nil) throws -> ModelFile {
        let detected = try CheckpointReader.detect(path: path)
        if detected.kind == .latte { return .latte(try LatteFile(file: detected.file, base: base)) }
        return .checkpoint(try CheckpointReader.open(detected))
    }
}
