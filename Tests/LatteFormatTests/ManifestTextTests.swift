import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// The writer streams the manifest text entry by entry (`serializedText`); it must be the
/// compact serialization of the manifest's value, byte for byte, whatever the manifest holds.
@Suite struct ManifestTextTests {
    @Test func streamedTextIsTheValueSerialized() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        var checked = 0
        for source in fixtureFiles() + [fixturesRoot + "/models/k2"] {
            let out = dir.file("m\(checked).latte")
            try LatteWriter.write(try CheckpointReader.open(path: source), plan: nil, to: out, options: testOptions())
            let bytes = readFile(out)
            let file = try LatteFile(path: out)
            #expect(file.manifest.serializedText() == Array(file.manifest.json.serialized().utf8), "\(source)")
            // And it is what the writer stored.
            #expect(Array(bytes[manifestRange(of: bytes)]) == file.manifest.serializedText(), "\(source)")
            checked += 1
        }
        #expect(checked > 3)
    }

    @Test func emptyListsAndEscapedNamesSerializeAlike() {
        var m = manifest(chunkSize: 4096, dataBytes: 0, [])
        m.metadata = [("k\"ey", "v\nalue"), ("é", "中")]
        #expect(m.serializedText() == Array(m.json.serialized().utf8))
    }
}
