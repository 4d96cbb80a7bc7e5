import LatteCore
@testable import LatteReaders
import LatteTestSupport
#if canImport(Glibc)
import Glibc
#endif

/// Paths of the fixture folders.
enum TorchFixtures {
    static let root = fixturesRoot + "/"
    static let readers = root + "readers/"
    static let malformed = root + "malformed/"

    static func exists(_ path: String) -> Bool { LatteTestSupport.fileExists(path) }

    /// A JSON file of the fixtures, parsed.
    static func json(_ path: String) throws -> JSONValue {
        let f = try MappedFile(path: path)
        return try JSON.parse(f.bytes)
    }
}

/// A minimal zip writer for tests: stored records, optional zip64 end records, optional
/// per-record compression method (the bytes are left as given).
struct ZipBuilder {
    struct Entry {
        var name: String
        var data: [UInt8]
        var method: UInt16 = 0
        var localExtra: [UInt8] = []
    }
    var entries: [Entry] = []
    var zip64 = false
    var comment: [UInt8] = []

    mutating func add(_ name: String, _ data: [UInt8], method: UInt16 = 0, localExtra: [UInt8] = []) {
        entries.append(Entry(name: name, data: data, method: method, localExtra: localExtra))
    }

    mutating func add(_ name: String, _ text: String) { add(name, Array(text.utf8)) }

    func bytes() -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
        func u32(_ v: Int) { for i in 0 ..< 4 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        func u64(_ v: Int) { for i in 0 ..< 8 { out.append(UInt8((v >> (8 * i)) & 0xFF)) } }
        var offsets: [Int] = []
        for e in entries {
            offsets.append(out.count)
            let name = Array(e.name.utf8)
            u32(0x0403_4B50); u16(20); u16(0); u16(Int(e.method)); u16(0); u16(0)
            u32(0); u32(e.data.count); u32(e.data.count); u16(name.count); u16(e.localExtra.count)
            out += name + e.localExtra + e.data
        }
        let cdStart = out.count
        for (i, e) in entries.enumerated() {
            let name = Array(e.name.utf8)
            u32(0x0201_4B50); u16(20); u16(20); u16(0); u16(Int(e.method)); u16(0); u16(0)
            u32(0); u32(e.data.count); u32(e.data.count); u16(name.count); u16(0); u16(0)
            u16(0); u16(0); u32(0); u32(offsets[i])
            out += name
        }
        let cdSize = out.count - cdStart
        if zip64 {
            let recordAt = out.count
            u32(0x0606_4B50); u64(44); u16(45); u16(45); u32(0); u32(0)
            u64(entries.count); u64(entries.count); u64(cdSize); u64(cdStart)
            u32(0x0706_4B50); u32(0); u64(recordAt); u32(1)
            u32(0x0605_4B50); u16(0); u16(0); u16(0xFFFF); u16(0xFFFF); u32(0xFFFF_FFFF); u32(0xFFFF_FFFF); u16(comment.count)
        } else {
            u32(0x0605_4B50); u16(0); u16(0); u16(entries.count); u16(entries.count); u32(cdSize); u32(cdStart); u16(comment.count)
        }
        out += comment
        return out
    }
}

/// Pickle byte-building helpers (protocol 2 opcodes, the way torch writes them).
enum P {
    static func proto(_ v: UInt8 = 2) -> [UInt8] { [0x80, v] }
    static func bu(_ s: String) -> [UInt8] {
        let b = Array(s.utf8)
        return [0x58] + le32(b.count) + b
    }
    static func le32(_ v: Int) -> [UInt8] { (0 ..< 4).map { UInt8((v >> (8 * $0)) & 0xFF) } }
    /// BININT when `v` fits 32 bits, else LONG1 with 8 bytes.
    static func int(_ v: Int) -> [UInt8] {
        if v >= Int(Int32.min) && v <= Int(Int32.max) { return [0x4A] + le32(v) }
        return [0x8A, 8] + (0 ..< 8).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
    }
    static func global(_ m: String, _ n: String) -> [UInt8] { [0x63] + Array("\(m)\n\(n)\n".utf8) }
    static func tuple(_ items: [[UInt8]]) -> [UInt8] { [0x28] + items.flatMap { $0 } + [0x74] }

    /// `_rebuild_tensor_v2(persid(('storage', torch.<type>, key, 'cpu', numel)), offset, size, stride, False, OrderedDict())`.
    static func tensor(_ storageType: String, key: String, numel: Int, offset: Int = 0, size: [Int], stride: [Int]) -> [UInt8] {
        var p = global("torch._utils", "_rebuild_tensor_v2")
        let pid = tuple([bu("storage"), global("torch", storageType), bu(key), bu("cpu"), int(numel)])
        p += [0x28] + pid + [0x51] + int(offset)
        p += tuple(size.map { int($0) }) + tuple(stride.map { int($0) })
        p += [0x89] + global("collections", "OrderedDict") + [0x29, 0x52]
        p += [0x74, 0x52]
        return p
    }

    /// `{name: tensor, ...}` as a complete pickle.
    static func dict(_ items: [(String, [UInt8])]) -> [UInt8] {
        var p = proto() + [0x7D, 0x28]
        for (k, v) in items { p += bu(k) + v }
        return p + [0x75, 0x2E]
    }
}

/// The records of a torch.save zip around `pickle` and storages.
func torchZip(_ pickle: [UInt8], storages: [(String, [UInt8])] = [], top: String = "archive", byteorder: String = "little",
              extra: [(String, [UInt8])] = []) -> [UInt8] {
    var z = ZipBuilder()
    z.zip64 = true
    z.add("\(top)/data.pkl", pickle)
    z.add("\(top)/byteorder", byteorder)
    for (k, v) in storages { z.add("\(top)/data/\(k)", v) }
    for (k, v) in extra { z.add("\(top)/\(k)", v) }
    z.add("\(top)/version", "3\n")
    return z.bytes()
}

/// Little-endian bytes of floats.
func f32Bytes(_ v: [Float]) -> [UInt8] { v.flatMap { f in (0 ..< 4).map { UInt8((f.bitPattern >> (8 * $0)) & 0xFF) } } }

/// Reads `bytes` as a PyTorch file through the public entry point and hands the result to
/// `body` while the file exists (reading bytes checks the file is unchanged).
@discardableResult
func withTorch<R>(_ bytes: [UInt8], _ body: (Checkpoint, TorchContents) throws -> R) throws -> R {
    let path = temporaryFile(bytes, name: "t.pt")
    defer { unlink(path) }
    let file = try MappedFile(path: path)
    let c = try TorchReader.read(file: file, fileIndex: 0)
    return try body(Checkpoint(format: c.format, files: [file], tensors: c.tensors, skippedLeaves: c.skipped), c)
}

/// Reads `bytes` as a PyTorch file and returns only the contents (no byte access).
func readTorch(_ bytes: [UInt8]) throws -> TorchContents {
    try withTorch(bytes) { _, c in c }
}

/// The underlying error of a `LocatedError` (or the error itself).
func underlying(_ e: any Error) -> any Error { (e as? LocatedError)?.underlying ?? e }

/// The error thrown by `body`, unwrapped from its `LocatedError`; nil when nothing was thrown.
func caught(_ body: () throws -> Void) -> (any Error)? {
    do { try body(); return nil } catch { return underlying(error) }
}

/// How `CheckpointReader` refuses `path`: the error's text and the error unwrapped from its
/// `LocatedError`; nil when it opens the file.
func openingRefusal(_ path: String) -> (message: String, error: any Error)? {
    do {
        _ = try CheckpointReader.open(path: path)
        return nil
    } catch {
        return (String(describing: error), underlying(error))
    }
}

/// A tensor's contiguous little-endian bytes as an array.
func contiguousBytes(_ c: Checkpoint, _ name: String) throws -> [UInt8] {
    guard let t = c.tensor(named: name) else { throw TestFailure("no tensor \(name)") }
    return try c.bytes(of: t).withUnsafeBytes { Array($0) }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
