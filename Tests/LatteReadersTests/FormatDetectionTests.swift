import Testing
import LatteTestSupport
import LatteCore
@testable import LatteReaders
#if canImport(Glibc)
import Glibc
#endif

/// Detection maps a file once, hands that map to its reader, and names content that is
/// none of the formats latte reads instead of reading it as safetensors.
@Suite struct FormatDetectionTests {
    /// A CTranslate2 `model.bin`: u32 binary version, a u16-length-prefixed spec name with
    /// its NUL, then the variable count and the first variable's name.
    func ctranslate2ModelBin() -> [UInt8] {
        func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        let spec = Array("TransformerSpec".utf8) + [0]
        let variable = Array("encoder/embeddings_0/weights".utf8) + [0]
        return P.le32(6) + le16(spec.count) + spec + P.le32(1) + le16(variable.count) + variable
            + [UInt8](repeating: 0, count: 64)
    }

    func openError(_ bytes: [UInt8], name: String = "model.bin") -> (any Error)? {
        let path = temporaryFile(bytes, name: name)
        defer { unlink(path) }
        do { _ = try CheckpointReader.open(path: path) } catch { return error }
        return nil
    }

    @Test func aCTranslate2ModelIsNotReadAsSafetensors() throws {
        let bytes = ctranslate2ModelBin()
        bytes.withUnsafeBytes { #expect(CheckpointReader.detect(bytes: $0) == .unrecognized) }
        let e = try #require(openError(bytes))
        #expect(underlying(e) as? CheckpointDetectionError == .unrecognized(firstBytes: Array(bytes.prefix(16))))
        let message = String(describing: e)
        #expect(message.contains("model.bin: not a checkpoint format latte reads (safetensors, PyTorch zip/legacy/export, sharded index, .latte)"))
        #expect(message.hasSuffix(": starts with bytes 06 00 00 00 10 00 54 72 61 6e 73 66 6f 72 6d 65"), "\(message)")
        #expect(!message.contains("header length"))
    }

    @Test func textIsQuotedAsText() throws {
        let e = try #require(openError(Array("hello, this is not a model\n".utf8), name: "notes.bin"))
        #expect(String(describing: e).hasSuffix("starts with text 'hello, this is n'"), "\(e)")
    }

    /// Located at the file, once.
    @Test func theErrorNamesTheFile() throws {
        let e = try #require(openError(ctranslate2ModelBin()) as? LocatedError)
        #expect(e.path.hasSuffix("model.bin") && e.tensor == nil)
        #expect(e.underlying is CheckpointDetectionError)
    }

    /// Files that look like safetensors keep the reader's own precise errors.
    @Test func safetensorsLikeFilesKeepTheirOwnErrors() throws {
        func le64(_ v: UInt64) -> [UInt8] { (0 ..< 8).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        // A header's '{' after a length past the limit.
        let huge = le64(1 << 40) + Array(#"{"a":1}"#.utf8)
        #expect(underlying(try #require(openError(huge))) as? SafetensorsError
            == .headerTooLarge(declared: 1 << 40, limit: SafetensorsReader.maxHeaderSize))
        // A length within the limit, whatever follows: the header is checked as JSON.
        let truncated = le64(4096) + Array("[1, 2]".utf8)
        #expect(underlying(try #require(openError(truncated))) as? SafetensorsError
            == .headerOutsideFile(declared: 4096, fileSize: 14))
        // Too short to hold the length.
        #expect(underlying(try #require(openError([1, 2, 3]))) as? SafetensorsError == .fileTooSmall(size: 3))
    }

    @Test func aLatteFileIsNotACheckpoint() throws {
        let bytes = FileSignature.latte + [UInt8](repeating: 0, count: 64)
        bytes.withUnsafeBytes { #expect(CheckpointReader.detect(bytes: $0) == .latte) }
        #expect(underlying(try #require(openError(bytes, name: "m.latte"))) as? CheckpointDetectionError == .latteFile)
    }

    /// The reader reads the map detection made: one map per file.
    @Test func theReaderTakesTheDetectedMap() throws {
        let header = Array(#"{"w":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#.utf8)
        let bytes = (0 ..< 8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) } + header + [1, 2]
        let path = temporaryFile(bytes, name: "model.safetensors")
        defer { unlink(path) }
        let detected = try CheckpointReader.detect(path: path)
        #expect(detected.kind == .safetensors)
        let checkpoint = try CheckpointReader.open(detected)
        #expect(checkpoint.files.count == 1 && checkpoint.files[0] === detected.file)
    }
}
