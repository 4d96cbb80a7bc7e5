import Testing
import PropertyBased
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Twin deltas (FORMAT.md, "Twin deltas"): replica layers coded as their XOR with their
/// `model.layers` twins, bit-exact, never larger than plain coding, a group still readable on
/// its own (with the shared section it needs anyway), and every twin reference hostile input.
@Suite struct TwinDeltaTests {
    static let floats = DType.allCases.filter(\.isFloatingPoint)

    /// A twin of weight-like `dtype` values and a replica drifted from it: the low byte of
    /// each element changed in `flips` of 8 elements.
    static func pair(_ dtype: DType, count: Int, flips: UInt64, seed: UInt64) -> (twin: [UInt8], replica: [UInt8]) {
        let twin = makeBytes(dtype, count: count, pattern: .weights, seed: seed)
        var rng = SplitMix(state: seed ^ 0x5EED)
        let width = dtype.byteWidth ?? 1
        var replica = twin
        for e in stride(from: 0, to: replica.count, by: width) where rng.next() % 8 < flips { replica[e] ^= UInt8(truncatingIfNeeded: rng.next() | 1) & 0x0F }
        return (twin, replica)
    }

    /// Writes `model.layers.0.w` and `gen.layers.0.w` (and returns the file), with or without deltas.
    static func write(_ dir: TempDir, _ dtype: DType, count: Int, twin: [UInt8], replica: [UInt8], deltas: Bool, plan: SectionPlan? = nil) throws -> LatteFile {
        writeSafetensors(dir.file("m.safetensors"), [
            SyntheticTensor(name: "model.layers.0.w", dtype: dtype, shape: [count], bytes: twin),
            SyntheticTensor(name: "gen.layers.0.w", dtype: dtype, shape: [count], bytes: replica),
        ])
        var options = testOptions(chunkSize: 1024)
        options.twinDeltas = deltas
        let path = dir.file(deltas ? "d.latte" : "p.latte")
        try LatteWriter.write(try CheckpointReader.open(path: dir.file("m.safetensors")), plan: plan, to: path, options: options)
        return try LatteFile(path: path)
    }

    @Test func everyFloatDTypeRoundTripsAndNeverGrows() async {
        await propertyCheck(count: 60, input: Gen.int(in: 0 ..< Self.floats.count), Gen.int(in: 1 ... 600), Gen.int(in: 0 ... 8), Gen.uint64()) { d, n, flips, seed in
            let dtype = Self.floats[d]
            let count = n * 8
            let (twin, replica) = Self.pair(dtype, count: count, flips: UInt64(flips), seed: seed)
            let dir = TempDir()
            defer { dir.cleanup() }
            let withDeltas = try Self.write(dir, dtype, count: count, twin: twin, replica: replica, deltas: true)
            let plain = try Self.write(dir, dtype, count: count, twin: twin, replica: replica, deltas: false)
            #expect(try withDeltas.read(named: "gen.layers.0.w") == replica, "\(dtype.name) flips \(flips)")
            #expect(try withDeltas.read(named: "model.layers.0.w") == twin)
            let a = withDeltas.tensor(named: "gen.layers.0.w")!, b = plain.tensor(named: "gen.layers.0.w")!
            #expect(a.storedBytes <= b.storedBytes)
            for (x, y) in zip(a.chunks, b.chunks) { #expect(x.length <= y.length) }
            // An unchanged replica is all delta chunks (but in a few bytes, where a frame costs more than raw).
            if flips == 0, twin.count >= 256 {
                let big = a.chunks.filter { $0.raw >= 256 }
                #expect(big.allSatisfy { $0.xorTwin } && a.twin == "model.layers.0.w", "\(dtype.name)")
            }
        }
    }

    /// The chunk codec alone: never larger than plain, exact, a delta never raw.
    @Test func deltaChunksNeverExceedPlain() async {
        await propertyCheck(count: 200, input: Gen.int(in: 0 ..< Self.floats.count), Gen.int(in: 1 ... 800), Gen.int(in: 0 ... 8), Gen.uint64()) { d, n, flips, seed in
            let dtype = Self.floats[d]
            let (twin, replica) = Self.pair(dtype, count: n * 8, flips: UInt64(flips), seed: seed)
            let options = CodecOptions()
            let plain = replica.withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: options) }
            let coded = replica.withUnsafeBytes { r in twin.withUnsafeBytes { TwinDelta.encode(r, twin: $0, dtype: dtype, options: options) } }
            #expect(coded.entry.length <= plain.entry.length)
            guard coded.entry.xorTwin else { return }
            #expect(coded.entry.codec != .raw)
            var out = [UInt8](repeating: 0, count: replica.count)
            try coded.bytes.withUnsafeBytes { s in try out.withUnsafeMutableBytes { try ChunkCoder.decode(coded.entry, stored: s, into: $0) } }
            out.withUnsafeMutableBytes { o in twin.withUnsafeBytes { TwinDelta.xor(UnsafeRawBufferPointer(o), $0, into: o) } }
            #expect(out == replica)
        }
    }

    /// Read together, a twin and its replica share one decode of each twin chunk (paired jobs
    /// in `stream(pairTwins:)`, which export uses, and in `decode(into:)`): in every order,
    /// with one thread or two, the bytes are the source's.
    @Test func pairedReadsGiveTheBytes() async {
        await propertyCheck(count: 40, input: Gen.int(in: 0 ..< Self.floats.count), Gen.int(in: 1 ... 900), Gen.int(in: 0 ... 8), Gen.uint64()) { d, n, flips, seed in
            let dtype = Self.floats[d]
            let (twin, replica) = Self.pair(dtype, count: n * 8, flips: UInt64(flips), seed: seed)
            let dir = TempDir()
            defer { dir.cleanup() }
            let f = try Self.write(dir, dtype, count: n * 8, twin: twin, replica: replica, deltas: true)
            let want = ["model.layers.0.w": twin, "gen.layers.0.w": replica]
            var got: [String: [UInt8]] = [:]
            try f.stream(f.tensors, pairTwins: true) { t, chunk in got[t.name, default: []] += chunk }
            #expect(got == want, "\(dtype.name) \(n * 8) flips \(flips)")
            for (order, threads) in [(f.tensors, 1), (f.tensors.reversed(), 2)] {
                let buffers = order.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.nbytes, alignment: 64) }
                defer { for b in buffers { b.deallocate() } }
                try f.decode(Array(order), into: buffers, threads: threads)
                for (t, b) in zip(order, buffers) { #expect(Array(UnsafeRawBufferPointer(b)) == want[t.name], "\(t.name)") }
            }
            try SafetensorsExport.export(f, to: dir.file("back.safetensors"))
            let back = try SafetensorsReader.open(path: dir.file("back.safetensors"))
            for t in back.tensors { #expect(try back.bytes(of: t).withUnsafeBytes { Array($0) } == want[t.name], "\(t.name)") }
        }
    }

    /// A replica in an expert group reads with its group and the shared section only.
    @Test func aGroupReadsWithTheSharedSectionOnly() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = Self.pair(.bf16, count: 8192, flips: 1, seed: 3)
        let plan = SectionPlan(placements: [
            "model.layers.0.w": TensorPlacement(section: .shared, role: .context, layer: 0),
            "gen.layers.0.w": TensorPlacement(section: .group(0), role: .replica, layer: 0),
        ], planJSON: .object([("groups", .array([]))]))
        let f = try Self.write(dir, .bf16, count: 8192, twin: twin, replica: replica, deltas: true, plan: plan)
        let delta = f.tensor(named: "gen.layers.0.w")!.chunks.contains { $0.xorTwin }
        #expect(delta)
        let group = try f.readGroup(0)
        #expect(group.map(\.tensor.name) == ["gen.layers.0.w"] && group[0].bytes == replica)
        #expect(f.decompressedSections == [0, 1])
    }

    static let damages: [ManifestEdit] = [
        ManifestEdit(name: "twin not in the file", expected: "its twin 'nope' is not a tensor of the file") { m in m.tensors[1].twin = "nope" },
        ManifestEdit(name: "twin is the tensor itself", expected: "is not a tensor of the file") { m in m.tensors[1].twin = "gen.layers.0.w" },
        ManifestEdit(name: "twin has a twin", expected: "has a twin itself") { m in m.tensors[0].twin = "gen.layers.0.w" },
        ManifestEdit(name: "twin of another shape", expected: "is BF16 [8192], not BF16 [4096, 2]") { m in m.tensors[1].shape = [4096, 2] },
        ManifestEdit(name: "delta chunk without a twin", expected: "is a twin delta, and the tensor has no \"twin\"") { m in m.tensors[1].twin = nil },
    ]

    @Test(arguments: damages)
    func damagedTwinsAreRefused(_ damage: ManifestEdit) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = Self.pair(.bf16, count: 8192, flips: 1, seed: 5)
        let f = try Self.write(dir, .bf16, count: 8192, twin: twin, replica: replica, deltas: true)
        #expect(f.tensors.map(\.name) == ["model.layers.0.w", "gen.layers.0.w"] && f.tensors[1].twin != nil)
        let bytes = readFile(f.path)
        writeFile(f.path, try editedManifest(bytes, path: dir.file("x.latte"), damage.edit))
        let message = errorText { _ = try LatteFile(path: f.path) }
        #expect(message.contains(damage.expected), "\(damage.name): \(message)")
    }

    /// A damaged twin chunk fails the replica's read too, naming the replica's chunk.
    @Test func aDamagedTwinChunkIsNamed() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = Self.pair(.f32, count: 4096, flips: 1, seed: 9)
        let f = try Self.write(dir, .f32, count: 4096, twin: twin, replica: replica, deltas: true)
        let r = f.tensor(named: "gen.layers.0.w")!
        guard let k = r.chunks.firstIndex(where: \.xorTwin) else { Issue.record("no delta chunk"); return }
        let w = f.tensor(named: "model.layers.0.w")!.chunks[k]
        var bytes = readFile(f.path)
        bytes[w.offset + w.length / 2] ^= 0xFF
        writeFile(f.path, bytes)
        let message = errorText { _ = try LatteFile(path: f.path).read(named: "gen.layers.0.w") }
        #expect(message.contains("tensor 'gen.layers.0.w'"), "\(message)")
        // Read together, the pair decodes the twin's chunk once: the twin's read fails first.
        let both = try LatteFile(path: f.path)
        let paired = errorText { try both.stream(both.tensors, pairTwins: true) { _, _ in } }
        #expect(paired.contains("tensor 'model.layers.0.w': "), "\(paired)")
        let buffers = both.tensors.map { UnsafeMutableRawBufferPointer.allocate(byteCount: $0.nbytes, alignment: 64) }
        defer { for b in buffers { b.deallocate() } }
        let inPlace = errorText { try both.decode(both.tensors, into: buffers, threads: 2) }
        #expect(inPlace.contains("tensor 'model.layers.0.w'") || inPlace.contains("tensor 'gen.layers.0.w'"), "\(inPlace)")
    }
}
