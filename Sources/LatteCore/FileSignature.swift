/// The first bytes that name a file's format, each written down once: format detection,
/// the readers and the `.latte` writer compare against these.
public enum FileSignature {
    /// A `.latte` file: 0x89, "LATTE", CR, LF (docs/FORMAT.md).
    public static let latte: [UInt8] = [0x89, 0x4C, 0x41, 0x54, 0x54, 0x45, 0x0D, 0x0A]
    /// A zip local file header, `PK\3\4`: how an archive with entries starts.
    public static let zipLocalFile: [UInt8] = [0x50, 0x4B, 0x03, 0x04]
    /// A zip end-of-central-directory record, `PK\5\6`: how an empty archive starts.
    public static let zipEndOfCentralDirectory: [UInt8] = [0x50, 0x4B, 0x05, 0x06]
    /// The first line of a Git LFS pointer file, left where the weights should be.
    public static let gitLFSPointer = Array("version https://git-lfs.github.com/spec/".utf8)

    /// True when `bytes` begin with `signature`.
    public static func matches(_ bytes: UnsafeRawBufferPointer, _ signature: [UInt8]) -> Bool {
        bytes.count >= signature.count && zip(bytes, signature).allSatisfy { $0 == $1 }
    }

    /// True when `bytes` begin as a zip archive does (torch.save, torch.export, TorchScript).
    public static func isZip(_ bytes: UnsafeRawBufferPointer) -> Bool {
        matches(bytes, zipLocalFile) || matches(bytes, zipEndOfCentralDirectory)
    }
}
