import Testing
import PropertyBased
@testable import LatteFormat
import LatteCore
import LatteTestSupport

@Suite struct ChecksumTests {
    @Test func xxh64KnownValues() {
        // Reference values from the xxHash project (seed 0).
        #expect(XXH64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXH64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(XXH64.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
    }

    /// Feeding bytes in pieces gives the one-shot hash, whatever the split.
    @Test func streamingEqualsOneShot() async {
        await propertyCheck(input: Gen.int(in: 0 ... 300), Gen.int(in: 0 ... 300), Gen.uint64()) { n, cut, seed in
            var rng = SplitMix(state: seed)
            let bytes = (0 ..< n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let k = min(cut, n)
            var x = XXH64()
            x.update(Array(bytes[0 ..< k]))
            x.update(Array(bytes[k...]))
            #expect(x.finalize() == XXH64.hash(bytes))
            var s = SHA256()
            s.update(Array(bytes[0 ..< k]))
            s.update(Array(bytes[k...]))
            #expect(s.finalize() == SHA256.hash(bytes))
        }
    }
}
