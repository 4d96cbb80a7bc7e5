import Testing
import PropertyBased
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// Whole files: random checkpoints (dtypes, shapes with zero and one dimensions, contents,
/// chunk sizes) convert and come back bit-exact through every read path.
@Suite struct FilePropertyTests {
    @Test func randomCheckpointsRoundTrip() async {
        await propertyCheck(count: 40, input: Gen.uint64(), Gen.int(in: 1 ... 512), Gen.int(in: 1 ... 6)) { seed, chunkUnits, tensorCount in
            var rng = SplitMix(state: seed)
            var tensors: [SyntheticTensor] = []
            for i in 0 ..< tensorCount {
                let dtype = DType.allCases[Int(rng.next() % UInt64(DType.allCases.count))]
                let rank = Int(rng.next() % 4)
                var shape = (0 ..< rank).map { _ in Int(rng.next() % 24) }
                if rng.next() % 5 == 0, !shape.isEmpty { shape[0] = 0 }
                // Sub-byte dtypes need element counts that fill whole bytes.
                if dtype.byteWidth == nil { shape = shape.isEmpty ? [8] : shape.map { $0 / 8 * 8 } }
                let count = elementCount(of: shape)!
                let pattern = Pattern.allCases[Int(rng.next() % UInt64(Pattern.allCases.count))]
                tensors.append(SyntheticTensor(name: "t\(i).\(dtype.name)", dtype: dtype, shape: shape,
                                               bytes: makeBytes(dtype, count: count, pattern: pattern, seed: rng.next())))
            }
            let dir = TempDir()
            defer { dir.cleanup() }
            writeSafetensors(dir.file("model.safetensors"), tensors, metadata: [("seed", String(seed))])
            do {
                let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
                var options = testOptions(chunkSize: chunkUnits * 8)
                options.threads = Int(rng.next() % 3) + 1
                try LatteWriter.write(c, plan: nil, to: dir.file("m.latte"), options: options)
                let f = try LatteFile(path: dir.file("m.latte"))
                for t in tensors {
                    let got = try f.read(named: t.name)
                    #expect(got == t.bytes, "\(t.name) \(t.shape) chunk \(chunkUnits * 8)")
                    #expect(f.tensor(named: t.name)?.shape == t.shape)
                }
                try SafetensorsExport.export(f, to: dir.file("back.safetensors"))
                let back = try SafetensorsReader.open(path: dir.file("back.safetensors"))
                #expect(back.metadata == ["seed": String(seed)])
                for t in tensors {
                    let e = try #require(back.tensor(named: t.name))
                    #expect(try back.bytes(of: e).withUnsafeBytes { Array($0) } == t.bytes)
                }
                #expect(LatteVerifier.verify(f, source: c).ok)
            } catch {
                Issue.record("seed \(seed): \(error)")
            }
        }
    }
}
