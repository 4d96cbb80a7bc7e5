import Testing
import PropertyBased
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Base references (FORMAT.md, "Base references"): tensors whose bytes a base checkpoint
/// holds are stored as references, read back from the base bit-exact, refused with a named
/// error when the base is absent, lacks the tensor or differs, and every reference entry of
/// the manifest is hostile input.
@Suite struct BaseReferenceTests {
    /// Every dtype whose elements make whole bytes at 8 elements.
    static let dtypes = DType.allCases

    /// Writes `source` and `base` as safetensors, converts the source against the base, and
    /// returns the paths (`src.safetensors`, `base.safetensors`, `out.latte`).
    static func convert(_ dir: TempDir, source: [SyntheticTensor], base: [SyntheticTensor], chunkSize: Int = 1024,
                        twinDeltas: Bool = true) throws -> (src: String, base: String, latte: String, summary: LatteWriteSummary) {
        let (src, b, out) = (dir.file("src.safetensors"), dir.file("base.safetensors"), dir.file("out.latte"))
        writeSafetensors(src, source)
        writeSafetensors(b, base)
        var options = testOptions(chunkSize: chunkSize)
        options.base = try CheckpointReader.open(path: b)
        options.twinDeltas = twinDeltas
        let summary = try LatteWriter.write(try CheckpointReader.open(path: src), plan: nil, to: out, options: options)
        return (src, b, out, summary)
    }

    static func tensor(_ name: String, _ dtype: DType, _ n: Int, seed: UInt64) -> SyntheticTensor {
        let count = n * 8
        return SyntheticTensor(name: name, dtype: dtype, shape: [count], bytes: makeBytes(dtype, count: count, pattern: .weights, seed: seed))
    }

    /// A small source: `a` and `b` shared with the base (the base calls `a` `renamed.a`), `c` its own.
    static func small() -> (source: [SyntheticTensor], base: [SyntheticTensor]) {
        let a = tensor("a", .bf16, 300, seed: 1), b = tensor("b", .f32, 40, seed: 2), c = tensor("c", .bf16, 50, seed: 3)
        var ra = a
        ra.name = "renamed.a"
        return ([a, b, c], [tensor("other", .f16, 10, seed: 9), ra, b])
    }

    @Test func randomSetsRoundTripThroughTheBase() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 1 ... 12)) { seed, count in
            var rng = SplitMix(state: seed)
            var source: [SyntheticTensor] = [], base: [SyntheticTensor] = []
            for i in 0 ..< count {
                let dtype = Self.dtypes[Int(rng.next() % UInt64(Self.dtypes.count))]
                let t = Self.tensor("t\(i)", dtype, Int(rng.next() % 300) + 1, seed: rng.next())
                source.append(t)
                switch rng.next() % 3 {
                case 0: base.append(SyntheticTensor(name: "base.\(i)", dtype: t.dtype, shape: t.shape, bytes: t.bytes))
                case 1: base.append(Self.tensor("base.\(i)", dtype, t.shape[0] / 8, seed: rng.next()))  // same shape, other bytes
                default: break
                }
            }
            let dir = TempDir()
            defer { dir.cleanup() }
            let (src, b, out, summary) = try Self.convert(dir, source: source, base: base)
            let expected = source.filter { t in base.contains { $0.dtype == t.dtype && $0.shape == t.shape && $0.bytes == t.bytes } }
            #expect(summary.referencedTensors == expected.count)
            #expect(summary.referencedBytes == expected.reduce(0) { $0 + $1.bytes.count })
            let file = try LatteFile(path: out, base: try CheckpointReader.open(path: b))
            #expect(Set(file.tensors.filter { $0.base != nil }.map(\.name)) == Set(expected.map(\.name)))
            for t in source {
                #expect(try file.read(named: t.name) == t.bytes)
                #expect(try file.bytes(of: file.tensor(named: t.name)!).withUnsafeBytes { Array($0) } == t.bytes)
            }
            // decode into caller memory (the C library's read path) too.
            var buffers = file.tensors.map { UnsafeMutableRawBufferPointer.allocate(byteCount: max($0.nbytes, 1), alignment: 64) }
            defer { buffers.forEach { $0.deallocate() } }
            buffers = zip(buffers, file.tensors).map { UnsafeMutableRawBufferPointer(rebasing: $0[0 ..< $1.nbytes]) }
            try file.decode(file.tensors, into: buffers, threads: 2)
            for (t, buf) in zip(source, buffers) { #expect(Array(buf) == t.bytes) }
            try SafetensorsExport.export(file, to: dir.file("back.safetensors"))
            #expect(readFile(dir.file("back.safetensors")) == readFile(src))
            #expect(LatteVerifier.verify(file, source: try CheckpointReader.open(path: src)).ok)
        }
    }

    /// Two source tensors with the bytes of one base tensor: one reference, the other stored.
    @Test func aBaseTensorIsReferencedOnce() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let a = Self.tensor("a", .bf16, 30, seed: 1)
        var tied = a
        tied.name = "tied"
        let (_, b, out, summary) = try Self.convert(dir, source: [a, tied], base: [a])
        #expect(summary.referencedTensors == 1)
        let file = try LatteFile(path: out, base: try CheckpointReader.open(path: b))
        #expect(file.tensor(named: "a")?.base != nil && file.tensor(named: "tied")?.base == nil)
        #expect(try file.read(named: "tied") == a.bytes)
    }

    @Test func aFileWithoutReferencesIsByteIdenticalToTheWriterWithoutBase() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, _) = Self.small()
        // A base that shares nothing: same names and shapes, other bytes.
        let unrelated = source.enumerated().map { i, t in Self.tensor(t.name, t.dtype, t.shape[0] / 8, seed: 100 + UInt64(i)) }
        let (src, _, out, summary) = try Self.convert(dir, source: source, base: unrelated)
        #expect(summary.referencedTensors == 0)
        let plain = dir.file("plain.latte")
        try LatteWriter.write(try CheckpointReader.open(path: src), plan: nil, to: plain, options: testOptions(chunkSize: 1024))
        #expect(readFile(out) == readFile(plain))
        #expect(try LatteFile(path: out).manifest.minor == 1)
    }

    @Test func referencesAreRecordedWithTheBaseAndItsFeature() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, b, out, _) = try Self.convert(dir, source: source, base: base)
        let m = try LatteFile(path: out).manifest
        #expect(m.minor == 2 && m.requiredFeatures.contains("base-ref"))
        #expect(m.tensors.map { $0.base?.name } == ["renamed.a", "b", nil])
        #expect(m.tensors[0].chunks.isEmpty && m.tensors[0].base!.sha256 == SHA256.hex(SHA256.hash(source[0].bytes)))
        let bytes = readFile(b)
        #expect(m.base == [BaseFile(name: "base.safetensors", size: bytes.count, sha256: SHA256.hex(SHA256.hash(bytes)))])
        #expect(readFile(out)[10] == 2)   // header minor
    }

    @Test func withoutTheBaseReadsNameTheBase() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, _, out, _) = try Self.convert(dir, source: source, base: base)
        let file = try LatteFile(path: out)
        // Tensors stored in the file still read; a reference names the base it needs.
        #expect(try file.read(named: "c") == source[2].bytes)
        let text = errorText { _ = try file.read(named: "a") }
        #expect(text.hasPrefix("\(out): tensor 'a' is stored in the base; pass --base (the base is base.safetensors ("), "\(text)")
        #expect(text.contains("sha256 "))
        #expect(errorText { try file.requireBaseIfReferenced() } == text)
    }

    @Test func aBaseWithoutTheTensorIsNamed() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, _, out, _) = try Self.convert(dir, source: source, base: base)
        writeSafetensors(dir.file("other.safetensors"), [base[0], base[2]])
        let file = try LatteFile(path: out, base: try CheckpointReader.open(path: dir.file("other.safetensors")))
        let text = errorText { _ = try file.read(named: "a") }
        #expect(text == "\(out): tensor 'a' is stored in the base as 'renamed.a', which the base \(dir.file("other.safetensors")) does not have")
    }

    @Test func aDifferentBaseTensorNamesBothHashes() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, _, out, _) = try Self.convert(dir, source: source, base: base)
        var changed = base
        changed[2].bytes[7] ^= 1
        writeSafetensors(dir.file("changed.safetensors"), changed)
        let file = try LatteFile(path: out, base: try CheckpointReader.open(path: dir.file("changed.safetensors")))
        let expected = hex64(XXH64.hash(source[1].bytes)), found = hex64(XXH64.hash(changed[2].bytes))
        let text = errorText { _ = try file.read(named: "b") }
        #expect(text == "\(out): tensor 'b' is stored in the base as 'b', and the base's differs: xxh64 expected \(expected), found \(found)")
        #expect(errorText { try SafetensorsExport.export(file, to: dir.file("x.safetensors")) } == text)
        #expect(!fileExists(dir.file("x.safetensors")))
        #expect(LatteVerifier.verify(file).failures.map(\.message) == [text])
        // A base tensor of another shape is named as such.
        changed[2] = SyntheticTensor(name: "b", dtype: .f32, shape: [2, 160], bytes: source[1].bytes)
        writeSafetensors(dir.file("reshaped.safetensors"), changed)
        let reshaped = try LatteFile(path: out, base: try CheckpointReader.open(path: dir.file("reshaped.safetensors")))
        #expect(errorText { _ = try reshaped.read(named: "b") } == "\(out): tensor 'b' is stored in the base as 'b', F32 [320]; the base's is F32 [2, 160]")
    }

    @Test func verifyChecksTheSHA256OfEachReference() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, b, out, _) = try Self.convert(dir, source: source, base: base)
        let wrong = String(repeating: "0", count: 64)
        let bytes = try editedManifest(readFile(out), path: dir.file("e.latte")) { $0.tensors[1].base!.sha256 = wrong }
        writeFile(dir.file("e.latte"), bytes)
        let file = try LatteFile(path: dir.file("e.latte"), base: try CheckpointReader.open(path: b))
        let sha = SHA256.hex(SHA256.hash(source[1].bytes))
        #expect(LatteVerifier.verify(file).failures.map(\.message)
                == ["\(dir.file("e.latte")): tensor 'b' is stored in the base as 'b', and the base's differs: sha256 expected \(wrong), found \(sha)"])
    }

    /// Every damaged reference entry is refused when the file is opened, naming the tensor.
    @Test func damagedReferenceEntriesAreRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (source, base) = Self.small()
        let (_, _, out, _) = try Self.convert(dir, source: source, base: base)
        let bytes = readFile(out)
        let text = String(decoding: bytes[manifestRange(of: bytes)], as: UTF8.self)
        let ref = "\"base\":{\"name\":\"renamed.a\",\"xxh64\":\"\(hex64(XXH64.hash(source[0].bytes)))\""
        #expect(text.contains(ref))
        let cases: [(String, String, String)] = [
            (ref, "\"base\":{\"name\":\"renamed.a\",\"xxh64\":\"XYZ\"", "\"base\" xxh64 must be 16 lowercase hex digits"),
            (ref, "\"base\":{\"name\":\"renamed.a\",\"xxh64\":\"0000000000000000\"", "differs from the tensor's"),
            (ref, "\"base\":{\"name\":\"\",\"xxh64\":\"\(hex64(XXH64.hash(source[0].bytes)))\"", "\"base\" needs the base tensor's name"),
            ("\"sha256\":\"\(SHA256.hex(SHA256.hash(source[0].bytes)))\"", "\"sha256\":\"abc\"", "\"base\" sha256 must be 64 lowercase hex digits"),
            ("\"nbytes\":4800,", "\"nbytes\":4801,", "\"nbytes\" must be 4800"),
            (ref, "\"chunks\":[]," + ref, "a tensor stored in the base has no \"chunks\""),
            (ref, "\"twin\":\"c\"," + ref, "a tensor stored in the base has no \"twin\""),
            (",\"base\":{\"files\"", ",\"old_base\":{\"files\"", "the manifest records no \"base\""),
            ("\"base-ref\"", "\"xxh64\"", "features.required lacks 'base-ref'"),
            ("\"name\":\"base.safetensors\"", "\"name\":\"\"", "base file 0 needs a name"),
            ("\"sha256\":\"\(SHA256.hex(SHA256.hash(readFile(dir.file("base.safetensors")))))\"", "\"sha256\":\"12\"", "sha256 must be 64 lowercase hex digits"),
            (",\"base\":{\"files\":[", ",\"base\":{\"files\":[],\"x\":[", "\"base\" must be {\"files\": [...]}"),
            ("\"name\":\"b\",\"xxh64\"", "\"name\":\"renamed.a\",\"xxh64\"", "is the reference of another tensor too"),
        ]
        for (from, to, why) in cases {
            #expect(text.contains(from), "\(from)")
            let damaged = resigned(bytes, manifest: Array(text.replacingOccurrences(of: from, with: to).utf8))
            writeFile(dir.file("d.latte"), damaged)
            let e = errorText { _ = try LatteFile(path: dir.file("d.latte")) }
            #expect(e.contains(why), "\(to): \(e)")
        }
    }

    /// A replica whose twin is stored in the base: its delta chunks XOR with the base's bytes.
    @Test func twinDeltasAgainstATwinInTheBase() async {
        await propertyCheck(count: 20, input: Gen.int(in: 0 ..< TwinDeltaTests.floats.count), Gen.int(in: 1 ... 600), Gen.uint64()) { d, n, seed in
            let dtype = TwinDeltaTests.floats[d]
            let (twin, replica) = TwinDeltaTests.pair(dtype, count: n * 8, flips: 2, seed: seed)
            let context = SyntheticTensor(name: "model.layers.0.w", dtype: dtype, shape: [n * 8], bytes: twin)
            let gen = SyntheticTensor(name: "gen.layers.0.w", dtype: dtype, shape: [n * 8], bytes: replica)
            var inBase = context
            inBase.name = "vlm.layers.0.w"
            let dir = TempDir()
            defer { dir.cleanup() }
            let (src, b, out, _) = try Self.convert(dir, source: [context, gen], base: [inBase], chunkSize: 256)
            let base = try CheckpointReader.open(path: b)
            let file = try LatteFile(path: out, base: base)
            let g = file.tensor(named: "gen.layers.0.w")!
            #expect(file.tensor(named: "model.layers.0.w")!.base?.name == "vlm.layers.0.w")
            #expect(g.twinBase?.name == (g.twin == nil ? nil : "vlm.layers.0.w"))
            #expect(try file.read(named: "gen.layers.0.w") == replica)
            var buffer = [UInt8](repeating: 0, count: replica.count)
            try buffer.withUnsafeMutableBytes { try file.decode([g], into: [$0], threads: 2) }
            #expect(buffer == replica)
            // The twin is read in place from the base: no thread holds a twin's scratch chunk.
            #expect(!DecodePlan([g], requestedThreads: 2).hasDeltas)
            try SafetensorsExport.export(file, to: dir.file("back.safetensors"))
            #expect(readFile(dir.file("back.safetensors")) == readFile(src))
            // Without the base, the delta chunks cannot be read either: the base is named.
            if g.chunks.contains(where: \.xorTwin) {
                #expect(errorText { _ = try LatteFile(path: out).read(named: "gen.layers.0.w") }.contains("is stored in the base; pass --base"))
            }
        }
    }

    @Test func unchangedReplicasOfABaseTwinAreDeltas() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (twin, replica) = TwinDeltaTests.pair(.bf16, count: 4096, flips: 1, seed: 5)
        let context = SyntheticTensor(name: "model.layers.0.w", dtype: .bf16, shape: [4096], bytes: twin)
        let gen = SyntheticTensor(name: "gen.layers.0.w", dtype: .bf16, shape: [4096], bytes: replica)
        let (_, _, out, _) = try Self.convert(dir, source: [context, gen], base: [context], chunkSize: 1024)
        let g = try LatteFile(path: out).tensor(named: "gen.layers.0.w")!
        #expect(g.twin == "model.layers.0.w" && g.chunks.allSatisfy(\.xorTwin))
    }
}
