/// What a tensor store lists about a tensor: enough to size and decode it without reading it.
public protocol StoredTensor: Sendable {
    var name: String { get }
    var dtype: DType { get }
    var shape: [Int] { get }
    /// Elements of the shape.
    var elementCount: Int { get }
    /// Bytes of the tensor's contiguous little-endian form.
    var byteCount: Int { get }
}

/// Tensors by name with access to their bytes: a `Checkpoint` a reader opened (from mapped
/// files or memory) or a `.latte` file (`LatteFile`, whose bytes come decompressed).
///
/// A store may keep the tensors of each replica group in a section of their own, read in
/// one pass when the runtime first needs that group (`readGroupSection`); a store without
/// sections reads every tensor on its own.
public protocol TensorStore: AnyObject {
    associatedtype Tensor: StoredTensor

    /// Every tensor, in the store's order (file order, pickle order, manifest order).
    var tensors: [Tensor] { get }

    /// The tensor called `name`, if the store has it.
    func tensor(named name: String) -> Tensor?

    /// The tensor's bytes, contiguous, row-major, little-endian.
    func bytes(of tensor: Tensor) throws -> TensorBytes

    /// Bytes `range` of the tensor's contiguous little-endian form.
    func bytes(of tensor: Tensor, range: Range<Int>) throws -> TensorBytes

    /// Bytes `bytes(of:)` allocates for a copy of the whole tensor (a strided view gathered,
    /// compressed chunks decoded), 0 when it hands out the store's bytes in place; nil when
    /// that size cannot be said. For memory estimates: nothing is read.
    func copiedBytes(of tensor: Tensor) -> Int?

    /// Every tensor of replica group `group`'s section, in store order, read in one pass;
    /// empty when the store has no sections.
    func readGroupSection(_ group: Int) throws -> [(tensor: Tensor, bytes: TensorBytes)]

    /// Bytes `readGroupSection(group)` holds at its peak, for memory estimates; 0 without sections.
    func groupSectionBytes(_ group: Int) -> Int?

    /// Decodes replica group `group`'s section chunk by chunk, on several threads, handing
    /// each chunk to `sink(tensor name, byte offset in the tensor, bytes)` on a decoding
    /// thread, in no set order and before checksums are known; returns once every tensor's
    /// checksum is verified (throws on a mismatch: the caller discards what `sink` wrote).
    /// False when the store has no such section or no such path (nothing read then).
    func streamGroupSection(_ group: Int, sink: @escaping @Sendable (String, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool

    /// Bytes `streamGroupSection(group)` holds at its peak, for memory estimates.
    func groupStreamBytes(_ group: Int) -> Int?

    /// `streamGroupSection` for any of the store's tensors: `sink(index in tensors, byte
    /// offset in the tensor, bytes)`, on decoding threads, in no set order, before checksums
    /// are known; returns once every checksum is verified. False when the store has no such
    /// path (nothing read then): its tensors are read with `bytes(of:)`.
    func stream(tensors: [Tensor], sink: @escaping @Sendable (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool

    /// Bytes `stream(tensors:)` of these tensors holds at its peak, for memory estimates.
    func streamBytes(_ tensors: [Tensor]) -> Int?
}

extension TensorStore {
    public func bytes(of tensor: Tensor) throws -> TensorBytes { try bytes(of: tensor, range: 0 ..< tensor.byteCount) }

    public func readGroupSection(_ group: Int) throws -> [(tensor: Tensor, bytes: TensorBytes)] { [] }

    public func groupSectionBytes(_ group: Int) -> Int? { 0 }

    public func streamGroupSection(_ group: Int, sink: @escaping @Sendable (String, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        false
    }

    public func groupStreamBytes(_ group: Int) -> Int? { 0 }

    public func stream(tensors: [Tensor], sink: @escaping @Sendable (Int, Int, UnsafeRawBufferPointer) throws -> Void) throws -> Bool {
        false
    }

    public func streamBytes(_ tensors: [Tensor]) -> Int? { 0 }
}

/// A tensor's contiguous bytes: a slice of a store's bytes (whose owner is kept alive here)
/// or an owned copy.
public struct TensorBytes: @unchecked Sendable { // immutable; a slice is read-only and its owner lives as long as it
    private let owner: AnyObject?
    private let slice: UnsafeRawBufferPointer?
    private let owned: [UInt8]?
    /// True when the pages under these bytes may be handed back to the kernel once read: a
    /// slice of a region that maps a file (`ByteRegion.isFileMapped`), whose pages are read
    /// again from the file if touched. False for copies, for bytes in memory (dropping their
    /// pages would lose them) and for slices whose owner looks after its own pages.
    public let mayReleasePages: Bool

    /// A slice of `region`'s bytes.
    public init(slice: UnsafeRawBufferPointer, of region: any ByteRegion) {
        owner = region
        self.slice = slice
        owned = nil
        mayReleasePages = region.isFileMapped
    }

    /// A slice of bytes `owner` keeps valid and whose pages it manages.
    public init(slice: UnsafeRawBufferPointer, keptAliveBy owner: AnyObject) {
        self.owner = owner
        self.slice = slice
        owned = nil
        mayReleasePages = false
    }

    public init(owned: [UInt8]) {
        owner = nil
        slice = nil
        self.owned = owned
        mayReleasePages = false
    }

    /// True when the bytes are a slice of the store's bytes rather than a copy.
    public var isZeroCopy: Bool { slice != nil }

    public var count: Int { slice?.count ?? owned!.count }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let slice { return try withExtendedLifetime(owner) { try body(slice) } }
        return try owned!.withUnsafeBytes(body)
    }
}
