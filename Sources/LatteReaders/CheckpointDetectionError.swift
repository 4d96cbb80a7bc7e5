/// Why a path could not be matched to a reader.
public enum CheckpointDetectionError: Error, Equatable, CustomStringConvertible {
    case noSuchFile
    case gitLFSPointer
    case latteFile
    /// None of the formats latte reads; the file's first bytes (at most 16).
    case unrecognized(firstBytes: [UInt8])
    case noWeightsInFolder
    case severalWeightsInFolder([String])

    public var description: String {
        switch self {
        case .noSuchFile: "no such file or folder"
        case .gitLFSPointer: "a Git LFS pointer, not the weights (run `git lfs pull` to fetch them)"
        case .latteFile: "a .latte file, not a checkpoint (`latte export` writes its tensors as safetensors)"
        case let .unrecognized(head):
            "not a checkpoint format latte reads (safetensors, PyTorch zip/legacy/export, sharded index, .latte): "
                + Self.describe(head)
        case .noWeightsInFolder: "no weights file (safetensors, .bin, .pt, .pth, .pt2 or an index) in this folder"
        case let .severalWeightsInFolder(names): "several weights files and no index to choose: \(names.joined(separator: ", "))"
        }
    }

    /// "starts with text '...'" when the bytes are printable ASCII, else their hex.
    static func describe(_ head: [UInt8]) -> String {
        if head.isEmpty { return "the file is empty" }
        let printable = head.allSatisfy { (0x20 ... 0x7E).contains($0) || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        if printable { return "starts with text '\(String(decoding: head, as: UTF8.self))'" }
        let hex = "0123456789abcdef".map { $0 }
        return "starts with bytes " + head.map { "\(hex[Int($0 >> 4)])\(hex[Int($0 & 15)])" }.joined(separator: " ")
    }
}
