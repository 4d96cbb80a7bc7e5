import LatteSystem
import LatteCore

/// The reference files `latte convert --reference DIR` embeds in a `.latte` file
/// (`inputs.safetensors`, `expected.safetensors`, optionally `run.json`), and the blob
/// names they are stored under, which the runtime's `ReferenceSet` reads back.
public enum EmbeddedReference {
    public static let inputsBlob = "reference/inputs.safetensors"
    public static let expectedBlob = "reference/expected.safetensors"
    public static let runBlob = "reference/run.json"

    /// The files a reference folder holds, each with its blob name: both safetensors files
    /// must be there, `run.json` is taken when present.
    public static func files(inFolder dir: String) throws -> [(name: String, path: String)] {
        let folder = dir.hasSuffix("/") ? dir : dir + "/"
        var out: [(String, String)] = []
        for (blob, file) in [(inputsBlob, "inputs.safetensors"), (expectedBlob, "expected.safetensors")] {
            guard access(folder + file, R_OK) == 0 else { throw LocatedError(path: folder + file, EmbeddedReferenceError.missingFile) }
            out.append((blob, folder + file))
        }
        if access(folder + "run.json", R_OK) == 0 { out.append((runBlob, folder + "run.json")) }
        return out
    }
}

/// What is missing from a reference folder.
public enum EmbeddedReferenceError: Error, Equatable, CustomStringConvertible {
    case missingFile

    public var description: String {
        switch self {
        case .missingFile: "missing: a reference folder holds inputs.safetensors and expected.safetensors"
        }
    }
}
