import Testing
import PropertyBased
@testable import LatteFormat

@Suite struct ChecksumTests {
    @Test func xxh64KnownValues() {
        // Reference values from the xxHash project (seed 0).
        #expect(XXH64.hash([UInt8]()) == 0xEF46_DB37_51D8_E999)
        #expect(XXH64.hash(Array("a".utf8)) == 0xD24E_C4F1_A98C_6E5B)
        #expect(XXH64.hash(Array("abc".utf8)) == 0x44BC_2CF5_AD77_0999)
        #expect(XXH64.hash(Array("Nobody inspects the spammish repetition".utf8)) == 0xFBCE_A83C_8A37_8BF1)
    }

    @Test func sha256KnownValues() {
        #expect(SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.hex([UInt8](repeating: 0x61, count: 1_000_000)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
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
            #expect(s.hexDigest() == SHA256.hex(bytes))
        }
    }
}
