import LatteCore

/// The fixed parts of a `.latte` file (docs/FORMAT.md, "File layout").
public enum LatteLayout {
    /// The first eight bytes: a non-ASCII byte (catches 7-bit transfers), the name, CR LF
    /// (catches newline translation), as PNG does.
    public static let magic = FileSignature.latte
    /// The last eight bytes.
    public static let endMagic: [UInt8] = Array("LATTEEND".utf8)
    public static let majorVersion: UInt16 = 1
    public static let minorVersion: UInt16 = 1
    /// Header: magic, major, minor, reserved flags, zero padding up to the first chunk.
    public static let headerSize = 64
    /// Trailer: manifest offset, manifest length, manifest XXH64 (each UInt64 LE), end magic.
    public static let trailerSize = 32
    /// Raw chunks start on multiples of this, so they can be used straight from a memory map.
    public static let alignment = 64
    /// The writer's default raw bytes per chunk.
    public static let defaultChunkSize = 1 << 20
    /// The largest `chunk_size`, for writer and reader alike (the writer's `--chunk-size`
    /// accepts up to this, the reader refuses more): it bounds every buffer one chunk needs.
    public static let maxChunkSize = 64 << 20
    /// At most this many raw bytes per stored byte in any chunk (`raw ≤ length × 2^15`), so
    /// decoding work is bounded by the bytes present: with chunks disjoint (also checked), a
    /// file decodes to at most 2^15 times its size. Why 2^15: zstd's densest block is an RLE
    /// block, 4 bytes for at most 128 KiB (the format's block maximum), which is exactly 2^15
    /// and libzstd never emits larger blocks; the frame header keeps a whole frame below it
    /// (64 MiB of zeros: 2,067 bytes, 32,467 to 1). An order-0 rANS stream of one symbol needs
    /// no words at all, so it has no such limit: the writer keeps its planes under the bound
    /// (`ChunkCoder`), which only matters for constant planes above 2^15 × 162 bytes (5.3 MB).
    /// Real data: the densest chunk is all zeros, 50 bytes for the default 1 MiB (20,971 to 1),
    /// 2,067 bytes for a 64 MiB chunk (32,466 to 1); trained weights are near 1.5 to 1.
    public static let maxCompressionRatio = 1 << 15
    /// Raw bytes of one batch of chunks decoded together (at least one chunk). The reader keeps
    /// two batches (one decoding, one being consumed): 2 × 64 MiB of slabs at most.
    public static let decodeBatchBytes = 64 << 20
    /// Scratch memory of all decoding threads together: each thread holds one buffer of the
    /// largest chunk's raw size, so the thread count is capped at `128 MiB / that size` (and
    /// at the online cores). Slabs and scratch together: at most 256 MiB, whatever the file or
    /// `--threads` says.
    public static let decodeScratchBytes = 128 << 20
    /// Stored bytes after which decoding into caller buffers hands the pages it has read back
    /// to the kernel, one block of consecutive chunks at a time (`StoredPageRelease`).
    public static let releaseBlockBytes = 8 << 20
    /// Readers refuse manifests larger than this before reading them.
    public static let maxManifestSize = 512 << 20
    /// Readers refuse more tensors, chunks per tensor, or sections than this.
    public static let maxEntries = 10_000_000

    /// Features this reader implements; a file requiring any other is refused.
    public static let knownRequiredFeatures: Set<String> = ["xxh64", "zstd", "planes", "rans32", "twin-xor", "base-ref"]
}
