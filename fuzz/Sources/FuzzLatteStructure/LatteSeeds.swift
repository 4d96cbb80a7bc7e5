#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LatteCore
import LatteFormat
import LatteReaders

/// Valid `.latte` files made from scratch by the library's own writer, so the target needs no
/// seed corpus and no prebuilt CLI: a few tensors of mixed dtypes and value patterns (each
/// codec gets used: raw, zstd, planes with raw/zstd/rans32 planes), small chunk sizes so that
/// one tensor spans many chunks and a stream spans several batches (with 2 threads a batch is
/// 8 chunks), optionally expert-group sections and an embedded file.
enum LatteSeeds {
    static let dtypes: [DType] = [.f32, .bf16, .f16, .f64, .i32, .u8, .i64, .f8e4m3, .bool, .c64, .i16]

    /// A fresh valid file, or nil when the writer refuses (it should not).
    static func make(_ r: inout FuzzRandom) -> [UInt8]? {
        let dir = "/dev/shm/latte-fuzz-seed-\(getpid())"
        mkdir(dir, 0o700)
        defer { removeTree(dir) }
        var tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])] = []
        let count = r.within(1 ... 12)
        for i in 0 ..< count {
            let dtype = r.pick(dtypes)
            let width = dtype.byteWidth ?? 1
            let elements = r.pick([0, 1, 3, 8, 64, 100, 256, 513, 1024, 2048])
            let shape: [Int] = elements > 0 && elements % 8 == 0 && r.chance(50) ? [8, elements / 8] : [elements]
            tensors.append(("layers.\(i).w", dtype, shape, values(dtype, elements * width, &r)))
        }
        let st = dir + "/in.safetensors"
        guard write(safetensors(tensors), to: st), let checkpoint = try? SafetensorsReader.open(path: st) else { return nil }
        var options = LatteWriteOptions()
        options.threads = 1
        options.chunkSize = r.pick([64, 128, 256, 1024, 4096])
        options.codec = CodecOptions(level: 1)
        // A plain manifest, which the mutator edits as it is (LatteImage opens compressed ones).
        options.compressManifest = false
        if r.chance(30) {
            let blob = dir + "/run.json"
            guard write(Array("{\"steps\": 2, \"guidance\": 1.0}".utf8) + r.bytes(r.below(300)), to: blob) else { return nil }
            options.embeddedFiles = [(name: "reference/run.json", path: blob)]
        }
        var plan: SectionPlan?
        if r.chance(40) {
            var placements: [String: TensorPlacement] = [:]
            for (i, t) in tensors.enumerated() {
                placements[t.name] = TensorPlacement(section: i % 3 == 0 ? .shared : .group(i % 3), role: i % 3 == 0 ? .shared : .replica,
                                                     layer: i)
            }
            plan = SectionPlan(placements: placements, planJSON: .object([]))
        }
        let out = dir + "/seed.latte"
        guard (try? LatteWriter.write(checkpoint, plan: plan, to: out, options: options)) != nil else { return nil }
        return readFile(out)
    }

    /// Bytes of one tensor: zeros (zstd territory), small integers, float-like words with a
    /// narrow exponent range (rANS territory), or noise (raw).
    static func values(_ dtype: DType, _ n: Int, _ r: inout FuzzRandom) -> [UInt8] {
        switch r.below(4) {
        case 0: return [UInt8](repeating: 0, count: n)
        case 1: return (0 ..< n).map { _ in UInt8(r.below(4)) }
        case 2:
            let w = dtype.byteWidth ?? 1
            return (0 ..< n).map { i in i % w == w - 1 ? UInt8(0x3C + r.below(3)) : UInt8(truncatingIfNeeded: r.next()) }
        default: return r.bytes(n)
        }
    }

    static func safetensors(_ tensors: [(name: String, dtype: DType, shape: [Int], bytes: [UInt8])]) -> [UInt8] {
        var members: [(String, JSONValue)] = []
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
        var out: [UInt8] = []
        appendLE(&out, UInt64(header.count))
        out += header
        for t in tensors { out += t.bytes }
        return out
    }
}

func write(_ bytes: [UInt8], to path: String) -> Bool {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
        guard n > 0 else { return false }
        done += n
    }
    return true
}

func readFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        if n < 0 { return nil }
        if n == 0 { return out }
        out += buffer[0 ..< n]
    }
}
