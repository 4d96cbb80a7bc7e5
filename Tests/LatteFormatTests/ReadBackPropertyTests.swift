import Testing
import PropertyBased
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Whatever `convert` (LatteWriter) or `export` (SafetensorsExport) accepts, latte reads
/// back: over generated names (NUL, `__metadata__`, empty, escapes, duplicates), ranks up to
/// 70, shapes with zero and one dimensions, every dtype and generated metadata, each write
/// either refuses before leaving anything or gives a file that reads back as it was written.
@Suite struct ReadBackPropertyTests {
    /// Pieces that names and metadata are built from: plain text, then every kind of text a
    /// reader has a rule about or a printer must escape.
    static let pieces = ["w", "layers.0", "", "__metadata__", "\u{0}", "a\u{0}b", "\u{1B}[31m", "\n", "é", "😀",
                         "\u{202E}", " ", "\"", "\\", "{}", "/", "__metadata", "\u{7F}", "\u{9B}"]

    struct Case {
        var tensors: [(name: String, dtype: DType, shape: [Int])] = []
        var metadata: [String: String] = [:]
    }

    /// A generated case: half of them use only the harmless pieces, so both outcomes occur.
    static func makeCase(seed: UInt64) -> Case {
        var rng = SplitMix(state: seed)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let hostile = rng.next() % 2 == 0
        let usable = hostile ? pieces : ["w", "layers.0", "é", "😀", " ", "\\", "/", "__metadata", "\u{1B}[31m", "\n"]
        func text() -> String { (0 ..< pick(4)).map { _ in usable[pick(usable.count)] }.joined() }
        var c = Case()
        for i in 0 ..< 1 + pick(5) {
            var name = text() + (hostile || i == 0 ? "" : ".\(i)")
            if hostile, i > 0, pick(6) == 0 { name = c.tensors[pick(c.tensors.count)].name }
            if !hostile, c.tensors.contains(where: { $0.name == name }) { name += "#\(i)" }
            let dtype = DType.allCases[pick(DType.allCases.count)]
            // Ranks past the limit only in hostile cases; at most 6 dimensions above 1, so
            // every tensor stays a few bytes.
            let rank = hostile ? pick(71) : pick(65)
            var shape = [Int](repeating: 1, count: rank)
            for _ in 0 ..< min(rank, 6) { shape[pick(rank)] = pick(4) }
            if !hostile, dtype.byteWidth == nil { shape = [8 * (1 + pick(3))] }
            c.tensors.append((name, dtype, shape))
        }
        for _ in 0 ..< pick(3) { c.metadata[text()] = text() }
        return c
    }

    /// Why latte's readers refuse this case, written out here from the formats' rules (not by
    /// calling the writer's checks), or nil when every reader accepts it.
    static func expectedRefusal(_ c: Case) -> String? {
        var names = Set<String>()
        for t in c.tensors {
            if t.name == "__metadata__" { return "reserved name" }
            if t.name.utf8.contains(0) { return "NUL in a name" }
            if t.shape.count > 64 { return "rank \(t.shape.count)" }
            if t.dtype.byteCount(elements: elementCount(of: t.shape)!) == nil { return "partial bytes" }
            if !names.insert(t.name).inserted { return "duplicate name" }
        }
        for (k, v) in c.metadata where k.utf8.contains(0) || v.utf8.contains(0) { return "NUL in metadata" }
        return nil
    }

    @Test func whatIsWrittenReadsBack() async {
        await propertyCheck(count: 300, input: Gen.uint64()) { seed in
            let c = ReadBackPropertyTests.makeCase(seed: seed)
            let dir = TempDir()
            defer { dir.cleanup() }
            // The source: every tensor's bytes in one file, as a reader would have mapped them.
            var rng = SplitMix(state: seed ^ 0x5EED)
            var data: [UInt8] = []
            var entries: [TensorEntry] = []
            var expected: [String: [UInt8]] = [:]
            for t in c.tensors {
                let n = t.dtype.byteCount(elements: elementCount(of: t.shape)!) ?? 0
                // Zeros and random bytes: the most and the least compressible chunks.
                let bytes = (0 ..< n).map { _ in rng.next() % 2 == 0 ? 0 : UInt8(truncatingIfNeeded: rng.next()) }
                entries.append(TensorEntry(name: t.name, dtype: t.dtype, shape: t.shape, file: 0, storageOffset: data.count,
                                           storageLength: n, storageKey: "\(entries.count)"))
                expected[t.name] = bytes
                data += bytes
            }
            writeFile(dir.file("source.bin"), data)
            let refusal = ReadBackPropertyTests.expectedRefusal(c)
            do {
                let source = try MappedFile(path: dir.file("source.bin"))
                let checkpoint = Checkpoint(format: .pytorchZip, files: [source], metadata: c.metadata, tensors: entries)
                do {
                    try LatteWriter.write(checkpoint, plan: nil, to: dir.file("m.latte"), options: testOptions(chunkSize: 8))
                } catch {
                    #expect(refusal != nil, "seed \(seed): refused a file every reader accepts: \(error)")
                    #expect(dir.entries == ["source.bin"], "seed \(seed): a refused convert left \(dir.entries)")
                    return
                }
                #expect(refusal == nil, "seed \(seed): wrote a file with \(refusal ?? "")")
                // Written: it must read back, names, shapes, bytes and metadata as they were.
                let f = try LatteFile(path: dir.file("m.latte"))
                #expect(f.tensors.map(\.name) == c.tensors.map(\.name))
                #expect(f.tensors.map(\.shape) == c.tensors.map(\.shape))
                #expect(Dictionary(uniqueKeysWithValues: f.manifest.metadata) == c.metadata)
                for t in f.tensors { #expect(try f.read(t) == expected[t.name], "seed \(seed): '\(t.name)'") }

                do {
                    try SafetensorsExport.export(f, to: dir.file("back.safetensors"))
                } catch {
                    Issue.record("seed \(seed): export refused a file latte wrote and read: \(error)")
                    #expect(dir.entries == ["m.latte", "source.bin"])
                    return
                }
                let back = try SafetensorsReader.open(path: dir.file("back.safetensors"))
                #expect(Set(back.tensors.map(\.name)) == Set(c.tensors.map(\.name)))
                #expect(back.metadata == c.metadata)
                for t in back.tensors {
                    #expect(t.shape == f.tensor(named: t.name)?.shape)
                    #expect(try back.bytes(of: t).withUnsafeBytes { Array($0) } == expected[t.name], "seed \(seed): '\(t.name)'")
                }
            } catch {
                Issue.record("seed \(seed): written, then refused on reading: \(error)")
            }
        }
    }

    /// The generator reaches both outcomes and every rule (else the property says little).
    @Test func theGeneratorCoversEveryRule() {
        var reasons = Set<String>()
        var accepted = 0
        for seed in 0 ..< 300 as Range<UInt64> {
            if let r = ReadBackPropertyTests.expectedRefusal(ReadBackPropertyTests.makeCase(seed: seed)) {
                reasons.insert(r.hasPrefix("rank") ? "rank" : r)
            } else {
                accepted += 1
            }
        }
        #expect(accepted >= 100)
        #expect(reasons == ["reserved name", "NUL in a name", "rank", "partial bytes", "duplicate name", "NUL in metadata"])
    }
}
