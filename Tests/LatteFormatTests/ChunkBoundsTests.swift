#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Decoding work bounded by the bytes present: chunks may neither overlap nor alias, no
/// chunk may decode to more than 2^15 raw bytes per stored byte, chunks follow the writer's
/// chunking, and the writer itself keeps to the bound.
@Suite struct ChunkBoundsTests {
    static let ratio = LatteLayout.maxCompressionRatio

    /// One zstd frame of `raw` zero bytes, as libzstd writes it.
    func zeroFrame(_ raw: Int) -> [UInt8] {
        let zeros = [UInt8](repeating: 0, count: raw)
        return zeros.withUnsafeBytes { Zstd.compress($0, Zstd.Parameters(level: 3))! }
    }

    /// Issue 10's example: 1,000 chunks of 64 MiB, all pointing at one 2 KB frame, made
    /// `verify` decode 62 GiB. Refused at open, at once.
    @Test func aliasedChunksAreRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let raw = LatteLayout.maxChunkSize
        let frame = zeroFrame(raw)
        #expect(frame.count * Self.ratio >= raw, "one frame alone is within the bound: \(frame.count) bytes")
        let c = ChunkEntry(offset: LatteLayout.headerSize, length: frame.count, raw: raw, codec: .zstd)
        let t = LatteTensor(name: "zeros", dtype: .u8, shape: [1000 * raw], nbytes: 1000 * raw, section: 0, checksum: 0,
                            chunks: Array(repeating: c, count: 1000))
        writeFile(dir.file("a.latte"), assembledLatte(data: frame, manifest(chunkSize: raw, dataBytes: frame.count, [t])))
        let started = DispatchTime.now()
        let m = errorText { _ = try LatteFile(path: dir.file("a.latte")) }
        #expect(m.contains("tensor 'zeros' is invalid: chunk 1 (\(frame.count) bytes at 64) overlaps chunk 0 of tensor 'zeros'"), "\(m)")
        #expect(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds < 1_000_000_000)
    }

    /// Partial overlaps, between chunks of one tensor, of two tensors, of a tensor and an
    /// embedded file; and sections that share bytes.
    @Test func overlapsAreRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes) = try latteWithEmbeddedRunJSON(dir)
        let file = try LatteFile(path: path)
        // Two tensors stored in `planes` chunks (no alignment rule to get in the way).
        let a = file.tensors.firstIndex { $0.chunks.count > 2 && $0.chunks.allSatisfy { $0.codec == .planes } }!
        let b = file.tensors.firstIndex { $0.chunks.first?.codec == .planes && $0.name != file.tensors[a].name }!
        let nameA = file.tensors[a].name, nameB = file.tensors[b].name
        let cases: [(String, (inout LatteManifest) -> Void)] = [
            // One tensor's chunks 0 and 1 at one offset.
            ("tensor '\(nameA)' is invalid: chunk ", { m in m.tensors[a].chunks[1].offset = m.tensors[a].chunks[0].offset }),
            // Another tensor's first chunk starting 8 bytes into it.
            ("of tensor '\(nameA)'", { m in m.tensors[b].chunks[0].offset = m.tensors[a].chunks[0].offset + 8 }),
            // The embedded file's (raw, aligned) chunk on the tensor's, in the tensor's section.
            ("of embedded file 'run.json'", { m in
                m.blobs[0].section = 0
                m.blobs[0].chunks[0].offset = m.tensors[a].chunks[0].offset
            }),
            ("sections 'shared' and 'blob:run.json' overlap", { m in
                let s = m.blobs[0].section
                m.sections[s].offset = m.sections[0].offset + m.sections[0].length - 1
                m.sections[s].length += 1
            }),
        ]
        for (expected, edit) in cases {
            writeFile(path, try editedManifest(bytes, path: path, edit))
            let m = errorText { _ = try LatteFile(path: path) }
            #expect(m.contains(expected) && m.contains("overlap"), "\(expected): \(m)")
        }
        #expect(nameA != nameB)
    }

    /// A frame that libzstd decodes but no compressor writes: RLE blocks of 2 MiB (the format
    /// caps blocks at 128 KiB; libzstd 1.5 decodes larger RLE blocks anyway), 64 MiB from
    /// ~140 bytes. Without the bound a thousand of them in 140 KB would decode 64 GB.
    @Test func oversizeRLEFrameIsRefused() throws {
        let raw = LatteLayout.maxChunkSize
        let block = 2 << 20 - 1
        var frame: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xA0]
        for k in 0 ..< 4 { frame.append(UInt8(truncatingIfNeeded: raw >> (8 * k))) }
        var left = raw
        while left > 0 {
            let n = min(block, left)
            left -= n
            let header = (left == 0 ? 1 : 0) | 1 << 1 | n << 3
            frame += [UInt8(header & 0xFF), UInt8(header >> 8 & 0xFF), UInt8(header >> 16 & 0xFF), 0]
        }
        // libzstd does decode it: only the manifest's bound stands in the way.
        var out = [UInt8](repeating: 1, count: raw)
        try frame.withUnsafeBytes { f in try out.withUnsafeMutableBytes { try Zstd.decompress(f, into: $0) } }
        #expect(out.allSatisfy { $0 == 0 })
        #expect(frame.count * Self.ratio < raw)
        let c = ChunkEntry(offset: LatteLayout.headerSize, length: frame.count, raw: raw, codec: .zstd)
        let t = LatteTensor(name: "zeros", dtype: .u8, shape: [raw], nbytes: raw, section: 0, checksum: 0, chunks: [c])
        let m = openingError(data: frame, chunkSize: raw, [t])
        #expect(m.contains("chunk 0 decodes \(frame.count) stored bytes to \(raw), over 32768 raw bytes per stored byte"), "\(m)")
    }

    /// An rANS plane of one symbol reads no words: 162 bytes decode to any size.
    @Test func singleSymbolRANSPlaneIsRefused() throws {
        let raw = 8 << 20
        let stream = [UInt8](repeating: 0, count: raw).withUnsafeBytes { RANS.encode($0, counts: [raw] + [Int](repeating: 0, count: 255)) }
        #expect(stream.count == RANS.headerBytes(symbols: 1))
        var c = ChunkEntry(offset: LatteLayout.headerSize, length: stream.count, raw: raw, codec: .planes)
        c.width = 1
        c.planes = [PlaneEntry(codec: .rans32, length: stream.count)]
        let t = LatteTensor(name: "f8", dtype: .f8e4m3, shape: [raw], nbytes: raw, section: 0, checksum: 0, chunks: [c])
        let m = openingError(data: stream, chunkSize: raw, [t])
        #expect(m.contains("tensor 'f8' is invalid: chunk 0 decodes 162 stored bytes to \(raw)"), "\(m)")
    }

    /// Every chunk but a tensor's last holds exactly `chunk_size` raw bytes, as the writer
    /// cuts them: no manifest can describe a tensor in more (or other) chunks than its bytes make.
    @Test func chunksFollowTheChunkSize() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (path, bytes, _) = try multiChunkLatte(dir, chunks: 4)
        writeFile(path, try editedManifest(bytes, path: path) { $0.chunkSize = 8192 })
        let m = errorText { _ = try LatteFile(path: path) }
        #expect(m.contains("chunk 0 has 4096 raw bytes; every chunk but the last has chunk_size (8192)"), "\(m)")
    }

    /// The writer keeps the bound where a plain codec choice would break it: constant planes
    /// of large chunks, which rANS codes in 162 bytes whatever their size.
    @Test(arguments: [DType.f8e4m3, .bf16, .f32, .u8])
    func writerKeepsTheRatioBound(_ dtype: DType) throws {
        let raw = 16 << 20
        let zeros = [UInt8](repeating: 0, count: raw)
        let e = zeros.withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: CodecOptions()) }
        #expect(e.entry.length * Self.ratio >= raw, "\(dtype): \(e.entry.length) bytes for \(raw)")
        #expect(e.entry.length < raw / 10_000, "\(dtype): still compressed: \(e.entry.length) bytes")
        var back = [UInt8](repeating: 1, count: raw)
        try e.bytes.withUnsafeBytes { s in try back.withUnsafeMutableBytes { try ChunkCoder.decode(e.entry, stored: s, into: $0) } }
        #expect(back == zeros)
    }

    /// At the default chunk size the densest chunks (all zero) stay well below the bound.
    @Test(arguments: [DType.f8e4m3, .bf16, .f16, .f32, .f64, .u8, .i64])
    func defaultChunksStayBelowTheBound(_ dtype: DType) {
        let raw = LatteLayout.defaultChunkSize
        let e = [UInt8](repeating: 0, count: raw).withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: CodecOptions()) }
        #expect(e.entry.length * 30_000 >= raw, "\(dtype): \(raw / e.entry.length) to 1")
    }
}
