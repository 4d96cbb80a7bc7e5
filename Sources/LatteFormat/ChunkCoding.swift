import LatteCore

/// The writer's codec choices, shared by every chunk of one conversion.
public struct CodecOptions: Sendable, Equatable {
    /// zstd level for non-float chunks and for very redundant planes.
    public var level: Int32 = 3
    /// A plane is stored raw when its estimated rANS size exceeds this fraction of its raw
    /// size: below ~0.5 % gain the coding time is not worth it (BF16's sign+mantissa plane
    /// sits at 0.9965).
    public var rawThreshold: Double = 0.995
    /// Below this estimated ratio a plane is also tried with zstd, whose matches beat an
    /// order-0 coder on runs (zero padding, repeated rows).
    public var zstdTryBelow: Double = 0.125
    /// Planes up to this size are also tried with zstd: the rANS table (up to 672 bytes)
    /// would cost more than the skew saves (a 16 KiB plane is a 32 KiB BF16 chunk).
    public var smallPlane = 16 << 10
    /// Float chunks up to this size are also tried whole with zstd.
    public var smallChunk = 64 << 10

    public init(level: Int32 = 3) { self.level = level }
}

/// A chunk ready to be written: its stored bytes and its manifest entry (offset unset).
struct EncodedChunk: Sendable {
    var bytes: [UInt8]
    var entry: ChunkEntry
}

/// Encoding and decoding of single chunks (docs/FORMAT.md, "Codecs").
enum ChunkCoder {
    /// The plane width for a dtype: the IEEE word for floats (a complex number's halves),
    /// nil when the dtype is not split.
    static func planeWidth(_ dtype: DType) -> Int? {
        guard dtype.isFloatingPoint else { return nil }
        guard dtype.byteWidth != nil else { return 1 }
        return dtype.swapUnit
    }

    /// Encodes one chunk of `dtype` elements.
    static func encode(_ raw: UnsafeRawBufferPointer, dtype: DType, options: CodecOptions) -> EncodedChunk {
        let n = raw.count
        if let width = planeWidth(dtype), n % width == 0 {
            return encodePlanes(raw, width: width, options: options)
        }
        return encodeBytewise(raw, options: options)
    }

    /// Non-float chunks: the smallest of zstd, one `rans32` plane (width 1) and raw. zstd's
    /// literals are Huffman-coded in whole bits per 128 KiB block, so on matchless skewed
    /// bytes (int8 weights) an order-0 rANS stream is smaller; with matches, zstd wins. rANS
    /// is tried only when the byte histogram's estimate beats zstd's frame.
    private static func encodeBytewise(_ raw: UnsafeRawBufferPointer, options: CodecOptions) -> EncodedChunk {
        let n = raw.count
        var best = EncodedChunk(bytes: [], entry: ChunkEntry(offset: 0, length: n, raw: n, codec: .raw))
        if let z = Zstd.compress(raw, Zstd.Parameters(level: options.level)), withinRatio(stored: z.count, raw: n) {
            best = EncodedChunk(bytes: z, entry: ChunkEntry(offset: 0, length: z.count, raw: n, codec: .zstd))
        }
        let counts = ByteStats.histogram(raw)
        let estimate = ByteStats.entropyBytes(counts) + Double(RANS.headerBytes(symbols: counts.filter { $0 > 0 }.count))
        if estimate < Double(best.entry.length) {
            let r = RANS.encode(raw, counts: counts)
            if r.count < best.entry.length, withinRatio(stored: r.count, raw: n) {
                best = EncodedChunk(bytes: r, entry: ChunkEntry(offset: 0, length: r.count, raw: n, codec: .planes, width: 1,
                                                                planes: [PlaneEntry(codec: .rans32, length: r.count)]))
            }
        }
        if best.entry.codec == .raw { best.bytes = Array(raw) }
        return best
    }

    /// Encodes a blob chunk (embedded files): zstd or raw.
    static func encodeBytes(_ raw: UnsafeRawBufferPointer, options: CodecOptions) -> EncodedChunk {
        let n = raw.count
        if let z = Zstd.compress(raw, Zstd.Parameters(level: options.level)), withinRatio(stored: z.count, raw: n) {
            return EncodedChunk(bytes: z, entry: ChunkEntry(offset: 0, length: z.count, raw: n, codec: .zstd))
        }
        return EncodedChunk(bytes: Array(raw), entry: ChunkEntry(offset: 0, length: n, raw: n, codec: .raw))
    }

    /// The format's bound on a chunk (raw ≤ stored × `LatteLayout.maxCompressionRatio`), kept
    /// plane by plane, so the chunk keeps it too. zstd frames of libzstd never exceed it (its
    /// densest block, RLE, is exactly 2^15 to 1 before the frame header); an rANS stream of a
    /// constant plane does above 2^15 × 162 bytes (5.3 MB), and is then not used.
    static func withinRatio(stored: Int, raw: Int) -> Bool {
        let (bound, huge) = stored.multipliedReportingOverflow(by: LatteLayout.maxCompressionRatio)
        return huge || raw <= bound
    }

    private static func encodePlanes(_ raw: UnsafeRawBufferPointer, width: Int, options: CodecOptions) -> EncodedChunk {
        let n = raw.count
        let planeSize = n / width
        let split = [UInt8](unsafeUninitializedCapacity: n) { buf, count in
            BytePlanes.split(raw, width: width, into: UnsafeMutableRawBufferPointer(buf))
            count = n
        }
        var stored: [[UInt8]] = []
        var planes: [PlaneEntry] = []
        split.withUnsafeBytes { all in
            for k in 0 ..< width {
                let plane = UnsafeRawBufferPointer(rebasing: all[k * planeSize ..< (k + 1) * planeSize])
                let chosen = choosePlane(plane, options: options)
                planes.append(PlaneEntry(codec: chosen.0, length: chosen.1.count))
                stored.append(chosen.1)
            }
        }
        // A small chunk is also tried whole with zstd (cheap there): repeated values across
        // bytes of one element, which the planes split apart, and no table to pay for.
        let whole = n <= options.smallChunk ? Zstd.compress(raw, Zstd.Parameters(level: options.level)) : nil
        let planesLength = stored.reduce(0) { $0 + $1.count }
        if let whole, whole.count < planesLength, withinRatio(stored: whole.count, raw: n) {
            return EncodedChunk(bytes: whole, entry: ChunkEntry(offset: 0, length: whole.count, raw: n, codec: .zstd))
        }
        // All planes raw: the chunk is better stored raw, where it can be used from the map.
        if planes.allSatisfy({ $0.codec == .raw }) {
            return EncodedChunk(bytes: Array(raw), entry: ChunkEntry(offset: 0, length: n, raw: n, codec: .raw))
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(planesLength)
        for s in stored { bytes.append(contentsOf: s) }
        return EncodedChunk(bytes: bytes, entry: ChunkEntry(offset: 0, length: bytes.count, raw: n, codec: .planes, width: width, planes: planes))
    }

    /// One plane's codec and stored bytes: `rans32` when the histogram's estimate (table
    /// included) says it gains enough; zstd too on very redundant planes (its matches beat an
    /// order-0 coder on runs) and on small planes, where the rANS table is a large part of
    /// the stream and a zstd frame costs a few bytes; raw otherwise.
    private static func choosePlane(_ plane: UnsafeRawBufferPointer, options: CodecOptions) -> (PlaneCodec, [UInt8]) {
        let planeSize = plane.count
        let counts = ByteStats.histogram(plane)
        let estimate = ByteStats.entropyBytes(counts) + Double(RANS.headerBytes(symbols: counts.filter { $0 > 0 }.count))
        var best: (PlaneCodec, [UInt8])? = nil
        if estimate < Double(planeSize) * options.rawThreshold {
            let r = RANS.encode(plane, counts: counts)
            if r.count < planeSize, withinRatio(stored: r.count, raw: planeSize) { best = (.rans32, r) }
        }
        if planeSize <= options.smallPlane || estimate < Double(planeSize) * options.zstdTryBelow,
           let z = Zstd.compress(plane, Zstd.Parameters(level: options.level)), z.count < (best?.1.count ?? planeSize),
           withinRatio(stored: z.count, raw: planeSize) {
            best = (.zstd, z)
        }
        return best ?? (.raw, Array(plane))
    }

    /// Decodes `stored` (the chunk's stored bytes) into `out` (exactly `entry.raw` bytes).
    /// `scratch` (at least `entry.raw` bytes), when given, holds the planes: a reader decoding
    /// many chunks reuses one per thread instead of faulting in fresh pages for each chunk.
    /// Throws a reason string for the caller to attach to the tensor and chunk.
    static func decode(_ entry: ChunkEntry, stored: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer,
                       scratch: UnsafeMutableRawBufferPointer? = nil) throws(ChunkDecodeFailure) {
        switch entry.codec {
        case .raw:
            out.copyMemory(from: stored)
        case .zstd:
            do { try Zstd.decompress(stored, into: out) } catch { throw ChunkDecodeFailure(String(describing: error)) }
        case .planes:
            let w = entry.width
            let planeSize = entry.raw / w
            if w == 1 {
                try decodePlane(entry.planes[0], stored, into: out)
                return
            }
            let owned = scratch.map { $0.count >= entry.raw } == true ? nil : UnsafeMutableRawBufferPointer.allocate(byteCount: entry.raw, alignment: 64)
            defer { owned?.deallocate() }
            let split = owned ?? UnsafeMutableRawBufferPointer(rebasing: scratch![0 ..< entry.raw])
            var at = 0
            var sources: [UnsafePointer<UInt8>] = []
            for (k, p) in entry.planes.enumerated() {
                let src = UnsafeRawBufferPointer(rebasing: stored[at ..< at + p.length])
                at += p.length
                if p.codec == .raw {
                    // Raw planes are read in place: no copy into scratch first.
                    guard src.count == planeSize else { throw ChunkDecodeFailure("raw plane of \(src.count) bytes for \(planeSize)") }
                    sources.append(src.baseAddress!.assumingMemoryBound(to: UInt8.self))
                    continue
                }
                let dst = UnsafeMutableRawBufferPointer(rebasing: split[k * planeSize ..< (k + 1) * planeSize])
                try decodePlane(p, src, into: dst)
                sources.append(UnsafePointer(dst.baseAddress!.assumingMemoryBound(to: UInt8.self)))
            }
            BytePlanes.merge(planes: sources, count: planeSize, into: out)
        }
    }

    private static func decodePlane(_ p: PlaneEntry, _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer) throws(ChunkDecodeFailure) {
        switch p.codec {
        case .raw:
            guard src.count == dst.count else { throw ChunkDecodeFailure("raw plane of \(src.count) bytes for \(dst.count)") }
            dst.copyMemory(from: src)
        case .zstd:
            do { try Zstd.decompress(src, into: dst) } catch { throw ChunkDecodeFailure("zstd plane: \(error)") }
        case .rans32:
            do { try RANS.decode(src, into: dst) } catch { throw ChunkDecodeFailure("rANS plane: \(error)") }
        }
    }
}

/// Why a chunk's stored bytes did not decode.
struct ChunkDecodeFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
