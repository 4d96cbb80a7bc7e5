import Testing
import LatteCore

@Suite struct SHA256Tests {
    func hex(_ s: String) -> String { SHA256.hex(SHA256.hash(Array(s.utf8))) }

    @Test func knownVectors() {
        // FIPS 180-4 / NIST examples.
        #expect(hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        var abc = SHA256()
        abc.update(Array("abc".utf8))
        #expect(abc.hexDigest() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
            == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")
            == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
        #expect(hex("The quick brown fox jumps over the lazy dog")
            == "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592")
    }

    @Test func millionAs() {
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        #expect(SHA256.hex(SHA256.hash(a)) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func streamingMatchesOneShotForEveryChunking() {
        var gen = SystemRandomNumberGenerator()
        let data = (0 ..< 1000).map { _ in UInt8.random(in: 0 ... 255, using: &gen) }
        let whole = SHA256.hash(data)
        for chunk in [1, 3, 55, 56, 63, 64, 65, 127, 128, 999] {
            var s = SHA256()
            var i = 0
            while i < data.count {
                s.update(Array(data[i ..< min(i + chunk, data.count)]))
                i += chunk
            }
            #expect(s.finalize() == whole, "chunk \(chunk)")
        }
        // Lengths around the padding boundary.
        for n in [55, 56, 57, 63, 64, 65] {
            var s = SHA256()
            s.update(Array(data[0 ..< n]))
            #expect(s.finalize() == SHA256.hash(data[0 ..< n]))
        }
    }

    /// A digest is a value: a copy updated or finalized leaves the original where it was,
    /// and the original hashed on leaves the copy alone.
    @Test func copiesHashIndependently() {
        var original = SHA256()
        original.update(Array("abc".utf8))
        var copy = original
        copy.update(Array("def".utf8))
        #expect(copy.hexDigest() == hex("abcdef"))
        var snapshot = original
        #expect(original.hexDigest() == hex("abc"))
        snapshot.update(Array("d".utf8))
        #expect(snapshot.hexDigest() == hex("abcd"))

        // Finalizing the original first must not consume the copy's state either.
        var first = SHA256()
        first.update(Array("ab".utf8))
        var second = first
        #expect(first.hexDigest() == hex("ab"))
        second.update(Array("c".utf8))
        #expect(second.hexDigest() == hex("abc"))
    }
}
