/// Bytes a checkpoint's tensors are read from, and what keeps them valid: a memory-mapped
/// file (`MappedFile`) or a buffer in memory (`MemoryRegion`). Readers parse either the
/// same way, so bytes already in memory (a reference file embedded in a `.latte`) are read
/// where they are, never written to a file to be mapped back.
public protocol ByteRegion: AnyObject, Sendable {
    /// The file's path, or for bytes in memory a label saying where they came from
    /// (`model.latte:reference/inputs.safetensors`): messages name it.
    var path: String { get }
    /// The region's size in bytes.
    var size: Int { get }
    /// The whole region, valid while this object is alive.
    var bytes: UnsafeRawBufferPointer { get }
    /// True when the bytes are a read-only private map of a file: pages handed back to the
    /// kernel are read again from the file when touched, where in memory they would be lost.
    var isFileMapped: Bool { get }
    /// Throws when the bytes can no longer be read safely (a mapped file truncated underneath).
    func checkUnchanged() throws
}

extension ByteRegion {
    /// Bytes `offset ..< offset + count`, or nil when that range is not inside the region.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
    }
}

/// Bytes held in memory, read like a mapped file.
///
/// The bytes are copied into an allocation of this object's own: an array's storage has no
/// address that outlives a `withUnsafeBytes` call, and readers hand out slices that must.
public final class MemoryRegion: ByteRegion, @unchecked Sendable { // immutable after init
    public let path: String
    public let size: Int
    private let base: UnsafeMutableRawPointer?

    /// Copies `bytes`; `label` names them in messages (see `ByteRegion.path`).
    public init(copying bytes: [UInt8], label: String) {
        path = label
        size = bytes.count
        guard !bytes.isEmpty else {
            base = nil
            return
        }
        // Aligned as a map's start is, so a tensor at an aligned offset is aligned here too.
        let p = UnsafeMutableRawPointer.allocate(byteCount: bytes.count, alignment: 64)
        bytes.withUnsafeBytes { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
        base = p
    }

    deinit { base?.deallocate() }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    public var isFileMapped: Bool { false }

    /// Memory cannot change underneath: nothing to check.
    public func checkUnchanged() throws {}
}
