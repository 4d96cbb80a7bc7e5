import Testing
import LatteCore
@testable import LatteReaders
#if canImport(Glibc)
import Glibc
#endif

/// Mutated copies of every real PyTorch fixture: each is read (and every tensor it yields
/// materialized) or refused with an error; never a trap, a hang or a huge allocation.
@Suite struct TorchFuzzTests {
    static let files = ["all_dtypes.pt", "all_dtypes_proto4.pt", "views.pt", "nested.pt", "big_endian.pt",
                        "legacy.pt", "legacy_module.pt", "exported.pt2", "meta_device.pt"]

    static func bytes(_ name: String) -> [UInt8] {
        guard let f = try? MappedFile(path: TorchFixtures.readers + name) else { return [] }
        return Array(f.bytes)
    }

    @Test(arguments: files)
    func mutatedFixturesAreReadOrRefused(_ name: String) throws {
        let original = Self.bytes(name)
        try #require(!original.isEmpty, "fixture \(name) missing")
        var g = SystemRandomNumberGenerator()
        let iterations = Int(getenv("LATTE_FUZZ_ITERATIONS").flatMap { Int(String(cString: $0)) } ?? 150)
        for _ in 0 ..< iterations {
            var b = original
            // Bias the damage towards the structures: the pickle near the start, the zip
            // directory near the end; sometimes anywhere, sometimes a truncation.
            for _ in 0 ..< Int.random(in: 1 ... 6, using: &g) {
                let region = Int.random(in: 0 ..< 3, using: &g)
                let i: Int = switch region {
                case 0: Int.random(in: 0 ..< min(b.count, 2048), using: &g)
                case 1: max(0, b.count - Int.random(in: 1 ... min(b.count, 1024), using: &g))
                default: Int.random(in: 0 ..< b.count, using: &g)
                }
                b[i] = Bool.random(using: &g) ? UInt8.random(in: 0 ... 255, using: &g) : b[i] ^ (1 << UInt8.random(in: 0 ..< 8, using: &g))
            }
            if Int.random(in: 0 ..< 10, using: &g) == 0 { b.removeLast(Int.random(in: 0 ..< b.count, using: &g)) }
            _ = try? withTorch(b) { c, _ in
                for t in c.tensors where !t.isMeta { _ = try? c.bytes(of: t) }
            }
        }
    }
}
