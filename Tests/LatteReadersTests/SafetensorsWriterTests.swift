#if canImport(Glibc)
import Glibc
#endif
import Testing
import PropertyBased
import LatteCore
import LatteReaders
import LatteTestSupport

/// `SafetensorsWriter`: the exact bytes it lays out, and random files read back by
/// `SafetensorsReader` as they were written.
@Suite struct SafetensorsWriterTests {
    /// Pieces of names and metadata: JSON escapes, control characters, every UTF-8 length.
    static let pieces = ["w", "layers.0", "", "\"", "\\", "\n", "\u{1}", "\u{1B}[31m", " ", "é", "€", "😀", "a/b"]

    static func text(_ rng: inout SplitMix) -> String {
        (0 ..< rng.below(4)).map { _ in pieces[rng.below(pieces.count)] }.joined()
    }

    /// A tensor of a random dtype and shape (zero and one dimensions included), random bytes.
    static func tensor(_ index: Int, _ rng: inout SplitMix) -> SyntheticTensor {
        let dtype = DType.allCases[rng.below(DType.allCases.count)]
        var shape = (0 ..< rng.below(5)).map { _ in rng.below(rng.chance(20) ? 2 : 9) }
        // Sub-byte dtypes need element counts that fill whole bytes.
        if dtype.byteWidth == nil { shape = shape.map { $0 / 8 * 8 } + [8] }
        let count = elementCount(of: shape)!
        // The index keeps names distinct; the text around it makes them hard to write.
        let name = text(&rng) + String(index) + text(&rng)
        return SyntheticTensor(name: name, dtype: dtype, shape: shape,
                               bytes: makeBytes(dtype, count: count, pattern: .random, seed: rng.next()))
    }

    @Test func randomFilesReadBack() async {
        await propertyCheck(count: 200, input: Gen.uint64(), Gen.int(in: 0 ... 8)) { seed, count in
            var rng = SplitMix(state: seed)
            let tensors = (0 ..< count).map { Self.tensor($0, &rng) }
            let metadata = (0 ..< rng.below(4)).map { i in (Self.text(&rng) + "k\(i)", Self.text(&rng)) }
            let path = temporaryFile(safetensorsFile(tensors, metadata: metadata), name: "w.safetensors")
            defer { unlink(path) }
            do {
                let c = try SafetensorsReader.open(path: path)
                #expect(c.metadata == Dictionary(uniqueKeysWithValues: metadata), "seed \(seed)")
                #expect(c.tensors.count == tensors.count, "seed \(seed)")
                for t in tensors {
                    let e = try #require(c.tensor(named: t.name), "seed \(seed): no tensor '\(t.name)'")
                    #expect(e.dtype == t.dtype && e.shape == t.shape, "seed \(seed): '\(t.name)'")
                    #expect(try c.bytes(of: e).withUnsafeBytes { Array($0) } == t.bytes, "seed \(seed): '\(t.name)'")
                }
                // The data starts aligned: the header is padded to 8 bytes.
                #expect((c.tensors.map(\.storageOffset).min() ?? 0) % 8 == 0, "seed \(seed)")
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }

    /// The bytes export has always written: the length, the compact header with
    /// `__metadata__` first, padded with spaces to 8 bytes, then the data in order.
    @Test func exactBytes() throws {
        let tensors = [SyntheticTensor(name: "a", dtype: .f32, shape: [2], bytes: [1, 2, 3, 4, 5, 6, 7, 8]),
                       SyntheticTensor(name: "b\"", dtype: .u8, shape: [3], bytes: [9, 10, 11])]
        let json = #"{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b\"":{"dtype":"U8","shape":[3],"data_offsets":[8,11]}}"#
        let padded = Array(json.utf8) + [UInt8](repeating: 0x20, count: (8 - json.utf8.count % 8) % 8)
        let length = (0 ..< 8).map { UInt8(truncatingIfNeeded: padded.count >> (8 * $0)) }
        #expect(try SafetensorsWriter.bytes(tensors, metadata: [("format", "pt")]) == length + padded + (1 ... 11).map { UInt8($0) })

        let layout = try SafetensorsWriter.layout(tensors)
        #expect(layout.dataRanges == [0 ..< 8, 8 ..< 11] && layout.dataSize == 11)
        #expect(layout.dataStart == layout.headerBytes.count && layout.dataStart % 8 == 0)
        #expect(!String(decoding: layout.headerBytes, as: UTF8.self).contains("__metadata__"), "no metadata, no member")
        #expect(try SafetensorsWriter.bytes([SyntheticTensor]()) == [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
    }

    /// A tensor whose bytes come in pieces: the same file as in one piece, and a tensor that
    /// hands out more or fewer bytes than its header entry says is refused.
    @Test func bytesInPieces() throws {
        struct Pieces: SafetensorsView {
            var name = "p", dtype = DType.u8, shape = [10], byteCount = 10
            var pieces: [[UInt8]]
            func writeBytes(_ write: (UnsafeRawBufferPointer) throws -> Void) throws {
                for p in pieces { try p.withUnsafeBytes { try write($0) } }
            }
        }
        let whole = SyntheticTensor(name: "p", dtype: .u8, shape: [10], bytes: Array(0 ..< 10))
        #expect(try SafetensorsWriter.bytes([Pieces(pieces: [[0, 1, 2], [], [3, 4, 5, 6, 7, 8], [9]])]) == SafetensorsWriter.bytes([whole]))
        #expect(throws: SafetensorsWriteError.wrongByteCount(tensor: "p", header: 10, given: 9)) {
            _ = try SafetensorsWriter.bytes([Pieces(pieces: [[0, 1, 2], [3, 4, 5, 6, 7, 8]])])
        }
        var written: [UInt8] = []
        #expect(throws: SafetensorsWriteError.wrongByteCount(tensor: "p", header: 10, given: 11)) {
            try SafetensorsWriter.write([Pieces(pieces: [Array(0 ..< 6), Array(6 ..< 11)])]) { written += $0 }
        }
        #expect(try written.count == SafetensorsWriter.layout([whole]).dataStart + 6, "the piece past the size is not written")
        #expect(SafetensorsWriteError.wrongByteCount(tensor: "p\n", header: 10, given: 11).description
            == #"tensor 'p\n': 11 bytes handed to the writer, its header entry says 10"#)
    }
}
