#if canImport(Glibc)
import Glibc
#endif
import LatteCore
import LatteReaders
@testable import LatteFormat

/// A fresh folder under /tmp for one test, removed by `cleanup()`.
struct TempDir {
    let path: String

    init() {
        var template = Array("/tmp/latte-format-test-XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: p!)
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// Names in the folder (to check no temporary file was left behind).
    var entries: [String] { TempDir.list(path) }

    func cleanup() {
        for e in entries { unlink(file(e)) }
        rmdir(path)
    }
}

/// A deterministic generator (SplitMix64) for test data.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Roughly normal, for weight-like floats.
    mutating func normal() -> Double {
        var s = 0.0
        for _ in 0 ..< 4 { s += Double(next() >> 11) / Double(1 << 53) }
        return (s - 2) * 1.7
    }
}

/// The kinds of content the codec properties are checked on.
enum Pattern: CaseIterable {
    case random, weights, special, constant
}

/// `count` elements of `dtype` following `pattern`.
func makeBytes(_ dtype: DType, count: Int, pattern: Pattern, seed: UInt64) -> [UInt8] {
    var rng = SplitMix(state: seed)
    let n = dtype.byteCount(elements: count) ?? (count * dtype.bitWidth + 7) / 8
    var out = [UInt8](repeating: 0, count: n)
    switch pattern {
    case .random:
        for i in 0 ..< n { out[i] = UInt8(truncatingIfNeeded: rng.next()) }
    case .constant:
        let v = UInt8(truncatingIfNeeded: rng.next())
        for i in 0 ..< n { out[i] = v }
    case .weights, .special:
        let width = dtype.byteWidth ?? 1
        for e in 0 ..< n / width {
            var bits: UInt64
            let w = rng.normal() * 0.02
            switch dtype {
            case .f32, .c64: bits = UInt64(Float(w).bitPattern)
            case .f64, .c128: bits = Double(w).bitPattern
            case .bf16: bits = UInt64(Float(w).bitPattern >> 16)
            case .f16: bits = UInt64(Float16(Float(w)).bitPattern)
            default: bits = rng.next() & 0x0F
            }
            if pattern == .special {
                // NaNs with payloads, ±Inf, subnormals, ±0, all-ones: every edge bit pattern.
                let specials: [UInt64] = [0, ~0, 1, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0x7F80, 0xFF80, 0x7FC1, 0x0001,
                                          0x7F80_0000, 0xFF80_0000, 0x7FC0_0001, 0x0000_0001, 0x8000_0001, 0x7C00, 0x7E01,
                                          0x7FF0_0000_0000_0000, 0x7FF8_0000_0000_0001, 0x000F_FFFF_FFFF_FFFF]
                if rng.next() % 3 == 0 { bits = specials[Int(rng.next() % UInt64(specials.count))] }
            }
            for k in 0 ..< width { out[e * width + k] = UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k))) }
        }
    }
    return out
}

/// A tensor of a synthetic checkpoint.
struct SyntheticTensor {
    var name: String
    var dtype: DType
    var shape: [Int]
    var bytes: [UInt8]
}

/// Writes a safetensors file (header padded with spaces to 8 bytes, as the reference does).
func writeSafetensors(_ path: String, _ tensors: [SyntheticTensor], metadata: [(String, String)] = []) {
    var members: [(String, JSONValue)] = []
    if !metadata.isEmpty { members.append(("__metadata__", .object(metadata.map { ($0.0, .string($0.1)) }))) }
    var offset = 0
    for t in tensors {
        members.append((t.name, .object([
            ("dtype", .string(t.dtype.name)), ("shape", .array(t.shape.map { .int(Int64($0)) })),
            ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + t.bytes.count))])),
        ])))
        offset += t.bytes.count
    }
    var header = Array(JSONValue.object(members).serialized().utf8)
    while header.count % 8 != 0 { header.append(0x20) }
    var data: [UInt8] = []
    for k in 0 ..< 8 { data.append(UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(k)))) }
    data += header
    for t in tensors { data += t.bytes }
    writeFile(path, data)
}

func writeFile(_ path: String, _ bytes: [UInt8]) {
    let f = fopen(path, "wb")!
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        out += buf[0 ..< n]
    }
    return out
}

func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// A checkpoint with weight-like tensors of several dtypes, a few MiB, so tensors span
/// several chunks at a small chunk size.
func syntheticCheckpoint(seed: UInt64 = 7) -> [SyntheticTensor] {
    var out: [SyntheticTensor] = []
    let specs: [(String, DType, [Int], Pattern)] = [
        ("embed.weight", .bf16, [512, 256], .weights),
        ("layers.0.attn.weight", .f32, [256, 256], .weights),
        ("layers.0.norm.weight", .f16, [256], .special),
        ("layers.1.mlp.weight", .f64, [64, 64], .weights),
        ("position_ids", .i64, [1, 512], .constant),
        ("mask", .bool, [3, 5], .random),
        ("empty", .f32, [0, 4], .random),
        ("scalar", .bf16, [], .special),
        ("codes", .u8, [1000], .random),
        ("fp8", .f8e4m3, [100], .random),
    ]
    for (i, s) in specs.enumerated() {
        let count = elementCount(of: s.2)!
        out.append(SyntheticTensor(name: s.0, dtype: s.1, shape: s.2, bytes: makeBytes(s.1, count: count, pattern: s.3, seed: seed &+ UInt64(i))))
    }
    return out
}

/// Where the shared fixtures are (a symlink in a local checkout), relative to this file.
let fixturesRoot: String = {
    var p = #filePath
    for _ in 0 ..< 3 { p = String(p[..<p.lastIndex(of: "/")!]) }
    return p + "/fixtures"
}()

/// Every safetensors fixture that exists right now.
func fixtureFiles() -> [String] {
    var out: [String] = []
    for dir in [fixturesRoot + "/readers"] {
        for e in TempDir.list(dir) where e.hasSuffix(".safetensors") { out.append(dir + "/" + e) }
    }
    for m in TempDir.list(fixturesRoot + "/models") {
        let f = fixturesRoot + "/models/" + m + "/model.safetensors"
        if fileExists(f) { out.append(f) }
    }
    return out
}

extension TempDir {
    static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let ent = readdir(dir) {
            let name = withUnsafePointer(to: ent.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}

/// Options for tests: no fsync, small chunks so even small tensors get several.
func testOptions(chunkSize: Int = 4096) -> LatteWriteOptions {
    var o = LatteWriteOptions()
    o.sync = false
    o.chunkSize = chunkSize
    return o
}

/// Where a `.latte` file's manifest lies, from its trailer.
func manifestRange(of bytes: [UInt8]) -> Range<Int> {
    let t = bytes.count - LatteLayout.trailerSize
    let offset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: t, as: UInt64.self) })
    return offset ..< t
}

/// `bytes` (a `.latte` file) with its manifest replaced by `manifest` and the trailer signed
/// again, as an attacker would: the checksum is no protection against a crafted file.
func resigned(_ bytes: [UInt8], manifest: [UInt8]) -> [UInt8] {
    let offset = manifestRange(of: bytes).lowerBound
    var out = Array(bytes[0 ..< offset]) + manifest
    for v in [UInt64(offset), UInt64(manifest.count), XXH64.hash(manifest)] {
        for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
    return out + LatteLayout.endMagic
}

/// `bytes` with its manifest rewritten by `edit`, structurally: the writer's own serializer
/// writes the edited manifest, so only the edit differs.
func editedManifest(_ bytes: [UInt8], path: String, _ edit: (inout LatteManifest) -> Void) throws -> [UInt8] {
    writeFile(path, bytes)
    var m = try LatteFile(path: path).manifest
    edit(&m)
    return resigned(bytes, manifest: Array(m.json.serialized().utf8))
}

/// The error `body` throws, as text ("" when it does not throw).
func errorText(_ body: () throws -> Void) -> String {
    do { try body() } catch { return String(describing: error) }
    return ""
}

/// A `.latte` file of one F32 tensor `w` of weight-like values in `chunks` chunks of
/// `chunkSize` bytes (planes chunks: a raw plane and rANS planes), and its path.
func multiChunkLatte(_ dir: TempDir, chunks: Int, chunkSize: Int = 4096, dtype: DType = .f32) throws -> (path: String, bytes: [UInt8], file: LatteFile) {
    let count = chunks * chunkSize / (dtype.byteWidth ?? 1)
    writeSafetensors(dir.file("w.safetensors"), [SyntheticTensor(name: "w", dtype: dtype, shape: [count],
                                                                 bytes: makeBytes(dtype, count: count, pattern: .weights, seed: 3))])
    let path = dir.file("w.latte")
    var options = testOptions(chunkSize: chunkSize)
    options.threads = 2
    try LatteWriter.write(try CheckpointReader.open(path: dir.file("w.safetensors")), plan: nil, to: path, options: options)
    let file = try LatteFile(path: path)
    return (path, readFile(path), file)
}

/// A `.latte` file made from scratch: the header, `data` as the data region (from byte 64),
/// then `manifest` and a trailer that signs it.
func assembledLatte(data: [UInt8], _ manifest: LatteManifest) -> [UInt8] {
    var out = LatteLayout.magic + [UInt8(LatteLayout.majorVersion), 0, UInt8(LatteLayout.minorVersion), 0]
    out += [UInt8](repeating: 0, count: LatteLayout.headerSize - out.count) + data
    let text = Array(manifest.json.serialized().utf8)
    let offset = out.count
    out += text
    for v in [UInt64(offset), UInt64(text.count), XXH64.hash(text)] {
        for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
    return out + LatteLayout.endMagic
}

/// A manifest of `tensors` in one section spanning `dataBytes` bytes from offset 64.
func manifest(chunkSize: Int, dataBytes: Int, _ tensors: [LatteTensor]) -> LatteManifest {
    LatteManifest(requiredFeatures: ["xxh64", "zstd", "planes", "rans32"], optionalFeatures: [], chunkSize: chunkSize,
                  metadata: [], provenance: .object([]),
                  sections: [SectionEntry(name: "shared", kind: .shared, offset: LatteLayout.headerSize, length: dataBytes)],
                  tensors: tensors, blobs: [])
}
