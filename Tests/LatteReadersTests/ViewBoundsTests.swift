import Testing
import LatteCore
@testable import LatteReaders
import LatteTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Views are never larger than their storage allows (issue 10, class 3): a stride-0 or
/// overlapping view may exceed its storage's bytes by `TensorEntry.maxViewExpansionBytes`,
/// the tensors of a file may hold `TorchReader.logicalBytesPerFileByte` times its bytes, and
/// a strided view is read a range at a time, equal to its whole copy.
@Suite struct ViewBoundsTests {
    let allowance = TensorEntry.maxViewExpansionBytes

    func expansionError(_ e: (any Error)?) -> TensorLayoutError? {
        if case let .badView(l)? = e as? TorchReaderError, case .expandedBeyondStorage = l { return l }
        return nil
    }

    func floatView(size: [Int], stride: [Int], numel: Int = 1) -> [UInt8] {
        torchZip(P.dict([("w", P.tensor("FloatStorage", key: "0", numel: numel, size: size, stride: stride))]),
                 storages: [("0", f32Bytes((0 ..< numel).map(Float.init)))])
    }

    @Test func theIssuesExpansionsAreRefusedNamingTheTensor() throws {
        // 4 bytes as [2^25, 2^25] (4.5e15 bytes) and as [2^28] (1 GiB).
        for (size, stride) in [([1 << 25, 1 << 25], [0, 0]), ([1 << 28], [0])] {
            let bytes = floatView(size: size, stride: stride)
            #expect(expansionError(caught { _ = try readTorch(bytes) })
                == .expandedBeyondStorage(logicalBytes: 4 * size.reduce(1, *), storageBytes: 4, allowance: allowance))
            let path = temporaryFile(bytes, name: "expanded.pt")
            defer { unlink(path) }
            do {
                _ = try CheckpointReader.open(path: path)
                Issue.record("accepted")
            } catch {
                #expect(String(describing: error).hasPrefix(path + ": tensor 'w': its view is too large"), "\(error)")
            }
        }
        // Overlapping windows (strides [1, 1]) over 64 KiB: 256 MiB.
        #expect(expansionError(caught { _ = try readTorch(floatView(size: [8192, 8192], stride: [1, 1], numel: 16384)) }) != nil)
    }

    @Test func offsetsAtTheTopOfIntAreRefused() {
        // One element at offset Int.max: its end used to overflow (a trap, SIGILL).
        let zip = torchZip(P.dict([("w", P.tensor("FloatStorage", key: "0", numel: 1, offset: Int.max, size: [1], stride: [1]))]),
                           storages: [("0", f32Bytes([1]))])
        #expect(caught { _ = try readTorch(zip) } as? TorchReaderError
            == .badView(.outsideStorage(lastElement: Int.max, storageBytes: 4)))
        for offset in [Int.max, Int.max - 1, Int.max / 4] {
            let e = TensorEntry(name: "w", dtype: .f32, shape: [1], file: 0, storageOffset: 0, storageLength: 4,
                                storageKey: "0", elementOffset: offset, strides: [1])
            #expect(throws: TensorLayoutError.self) { try e.checkViewInsideStorage() }
        }
    }

    @Test func theAllowanceIsExact() throws {
        // A scalar broadcast to storage + allowance bytes is read; one more element is not.
        let most = (4 + allowance) / 4
        let c = try readTorch(floatView(size: [most], stride: [0]))
        #expect(c.tensors.first?.byteCount == 4 + allowance)
        #expect(expansionError(caught { _ = try readTorch(floatView(size: [most + 1], stride: [0])) }) != nil)
        // Real expanded buffers: position_ids [1, 512] over 512 int64s, a mask from a scalar.
        let pos = P.tensor("LongStorage", key: "0", numel: 512, size: [1, 512], stride: [0, 1])
        let mask = P.tensor("FloatStorage", key: "1", numel: 1, size: [64, 64], stride: [0, 0])
        let ids = (0 ..< 512).flatMap { (i: Int) in (0 ..< 8).map { UInt8((i >> (8 * $0)) & 0xFF) } }
        try withTorch(torchZip(P.dict([("position_ids", pos), ("mask", mask)]), storages: [("0", ids), ("1", f32Bytes([1]))])) { c, _ throws in
            #expect(try contiguousBytes(c, "position_ids") == ids)
            #expect(try contiguousBytes(c, "mask") == Array([[UInt8]](repeating: f32Bytes([1]), count: 4096).joined()))
        }
    }

    @Test func theFilesLogicalBytesAreBounded() throws {
        // One 128 KiB storage under 1,000 names (a memoized tensor): 128 MiB from 150 KB.
        let storage = [UInt8](repeating: 1, count: 128 << 10)
        func named(_ count: Int) -> [UInt8] {
            var items = [("w0", P.tensor("FloatStorage", key: "0", numel: 32768, size: [32768], stride: [1]) + [0x71, 0])]
            for i in 1 ..< count { items.append(("w\(i)", [0x68, 0])) }
            return torchZip(P.dict(items), storages: [("0", storage)])
        }
        let bytes = named(1000)
        let limit = TorchReader.logicalBytesPerFileByte * bytes.count + TorchReader.logicalBytesAllowance
        let crossing = limit / storage.count // names before the one that crosses
        do {
            _ = try readTorch(bytes)
            Issue.record("accepted")
        } catch let e as LocatedError {
            #expect(e.tensor == "w\(crossing)")
            #expect(e.underlying as? TorchReaderError == .logicalBytesTooLarge(
                total: (crossing + 1) * storage.count, fileBytes: bytes.count, limit: limit,
                perByte: TorchReader.logicalBytesPerFileByte, allowance: TorchReader.logicalBytesAllowance))
        }
        // 400 names (50 MiB) are within it, and tied names read the same bytes.
        try withTorch(named(400)) { c, _ throws in
            #expect(c.tensors.count == 400)
            #expect(try contiguousBytes(c, "w399") == storage)
        }
    }

    // MARK: reading a view a range at a time

    /// The element at row-major position `i` of `e`, computed independently of the copier.
    func reference(_ e: TensorEntry, _ storage: [UInt8]) -> [UInt8] {
        let w = e.dtype.byteWidth!
        var out: [UInt8] = []
        for i in 0 ..< e.elementCount {
            var rest = i, at = e.elementOffset
            for d in (0 ..< e.shape.count).reversed() {
                at += (rest % e.shape[d]) * e.strides[d]
                rest /= e.shape[d]
            }
            var element = Array(storage[at * w ..< (at + 1) * w])
            if e.byteOrder == .big {
                let u = e.dtype.swapUnit
                for k in stride(from: 0, to: w, by: u) { element[k ..< k + u].reverse() }
            }
            out += element
        }
        return out
    }

    @Test(arguments: [
        ("transposed", DType.f32, [3, 4], [1, 3], 0, ByteOrder.little),
        ("expanded", DType.f32, [4, 3], [0, 1], 2, ByteOrder.little),
        ("permuted", DType.bf16, [2, 3, 4], [1, 8, 2], 1, ByteOrder.little),
        ("column", DType.i64, [5], [3], 1, ByteOrder.little),
        ("scalar", DType.f64, [], [], 3, ByteOrder.little),
        ("big-endian complex128", DType.c128, [2, 3], [1, 2], 0, ByteOrder.big),
        ("big-endian contiguous", DType.i32, [2, 5], [5, 1], 1, ByteOrder.big),
        ("empty", DType.f32, [0, 3], [3, 1], 0, ByteOrder.little),
    ])
    func rangesEqualTheWholeCopy(_ name: String, _ dtype: DType, _ shape: [Int], _ strides: [Int], _ offset: Int, _ order: ByteOrder) throws {
        let w = dtype.byteWidth!
        let storage = (0 ..< 32 * w).map { UInt8(($0 * 7 + 3) & 0xFF) }
        let path = temporaryFile(storage, name: "view")
        defer { unlink(path) }
        let file = try MappedFile(path: path)
        let e = TensorEntry(name: name, dtype: dtype, shape: shape, file: 0, storageOffset: 0, storageLength: storage.count,
                            storageKey: "0", elementOffset: offset, strides: strides, byteOrder: order)
        try e.checkViewInsideStorage()
        let c = Checkpoint(format: .pytorchZip, files: [file], tensors: [e])
        let whole = try c.bytes(of: e).withUnsafeBytes { Array($0) }
        #expect(whole == reference(e, storage), "\(name)")
        // Every chunk size, aligned to elements or not (8-byte chunks split a complex128).
        for chunk in [1, 3, 8, 16, 24, max(1, whole.count)] {
            var joined: [UInt8] = []
            var at = 0
            while at < whole.count {
                let n = min(chunk, whole.count - at)
                joined += try c.bytes(of: e, range: at ..< at + n).withUnsafeBytes { Array($0) }
                at += n
            }
            #expect(joined == whole, "\(name), chunks of \(chunk)")
        }
        #expect(throws: TensorReadError.rangeOutsideTensor(tensor: name, lower: 0, upper: whole.count + 1, byteCount: whole.count)) {
            _ = try c.bytes(of: e, range: 0 ..< whole.count + 1)
        }
    }

    @Test func aHandBuiltViewOutsideItsStorageIsRefusedOnRead() throws {
        let path = temporaryFile([UInt8](repeating: 0, count: 16), name: "view")
        defer { unlink(path) }
        let e = TensorEntry(name: "w", dtype: .f32, shape: [4], file: 0, storageOffset: 0, storageLength: 16,
                            storageKey: "0", elementOffset: 0, strides: [Int.max / 2])
        let c = Checkpoint(format: .pytorchZip, files: [try MappedFile(path: path)], tensors: [e])
        #expect(throws: TensorReadError.badView(tensor: "w", .outsideStorage(lastElement: Int.max, storageBytes: 16))) {
            _ = try c.bytes(of: e, range: 0 ..< 4)
        }
    }
}
