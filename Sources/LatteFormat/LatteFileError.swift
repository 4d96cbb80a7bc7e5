/// Everything that can be wrong with a `.latte` file, one case per rule. Descriptions name
/// "the manifest" or the tensor involved; `LatteFile` prefixes the file's path.
public enum LatteFileError: Error, Equatable, CustomStringConvertible {
    case tooSmall(size: Int)
    case notLatte
    case unsupportedVersion(major: UInt16, minor: UInt16)
    case badTrailer(String)
    case manifestTooLarge(Int)
    case manifestChecksumMismatch(expected: UInt64, found: UInt64)
    case manifestNotJSON(String)
    case manifestInvalid(String)
    case unknownRequiredFeature(String)
    case tensorEntryInvalid(tensor: String, reason: String)
    case blobEntryInvalid(blob: String, reason: String)
    case chunkCorrupt(tensor: String, chunk: Int, reason: String)
    case checksumMismatch(tensor: String, expected: UInt64, found: UInt64)
    case noSuchTensor(String)
    case noSuchGroup(Int)
    case noSuchBlob(String)

    public var description: String {
        switch self {
        case let .tooSmall(size): "not a .latte file: \(size) bytes, shorter than header and trailer"
        case .notLatte: "not a .latte file (bad magic number)"
        case let .unsupportedVersion(major, minor): "format version \(major).\(minor) is not supported (this reader reads 1.x)"
        case let .badTrailer(why): "the trailer is damaged: \(why) (file truncated or not finished)"
        case let .manifestTooLarge(n): "the manifest is \(n) bytes, over the limit of \(LatteLayout.maxManifestSize)"
        case let .manifestChecksumMismatch(e, f): "the manifest is corrupt: checksum \(hex64(f)), expected \(hex64(e))"
        case let .manifestNotJSON(why): "the manifest is not valid JSON: \(why)"
        case let .manifestInvalid(why): "the manifest is invalid: \(why)"
        case let .unknownRequiredFeature(f): "the manifest requires feature '\(f)', which this reader does not implement"
        case let .tensorEntryInvalid(t, why): "the manifest entry of tensor '\(t)' is invalid: \(why)"
        case let .blobEntryInvalid(b, why): "the manifest entry of embedded file '\(b)' is invalid: \(why)"
        case let .chunkCorrupt(t, c, why): "tensor '\(t)': chunk \(c) is corrupt: \(why)"
        case let .checksumMismatch(t, e, f): "tensor '\(t)': checksum mismatch: the bytes hash to \(hex64(f)), the manifest says \(hex64(e))"
        case let .noSuchTensor(t): "no tensor named '\(t)'"
        case let .noSuchGroup(g): "no section for expert group \(g)"
        case let .noSuchBlob(b): "no embedded file named '\(b)'"
        }
    }
}
