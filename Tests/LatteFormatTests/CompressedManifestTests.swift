import Testing
import LatteCore
import LatteReaders
@testable import LatteFormat
import LatteTestSupport

/// The compressed manifest (FORMAT.md, "Compressed manifest"): a zstd frame before a small
/// envelope at the trailer. It reads back as the plain manifest does, an older reader refuses
/// it by the feature it requires, and every number of the envelope is hostile input.
@Suite struct CompressedManifestTests {
    /// `syntheticCheckpoint()` written with a compressed manifest, and the same written plain.
    static func pair(_ dir: TempDir) throws -> (compressed: String, plain: String) {
        writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
        let c = try CheckpointReader.open(path: dir.file("model.safetensors"))
        var options = testOptions()
        try LatteWriter.write(c, plan: nil, to: dir.file("plain.latte"), options: options)
        options.compressManifest = true
        try LatteWriter.write(c, plan: nil, to: dir.file("packed.latte"), options: options)
        return (dir.file("packed.latte"), dir.file("plain.latte"))
    }

    /// The envelope at the trailer, as a value.
    static func envelope(_ bytes: [UInt8]) throws -> JSONValue {
        try bytes[manifestRange(of: bytes)].withUnsafeBytes { try JSON.parse($0) }
    }

    @Test func readsBackAsThePlainManifest() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let (packed, plain) = try Self.pair(dir)
        let a = try LatteFile(path: packed), b = try LatteFile(path: plain)
        #expect(a.size < b.size)
        #expect(a.tensors.map(\.name) == b.tensors.map(\.name))
        for (x, y) in zip(a.tensors, b.tensors) {
            #expect(x.checksum == y.checksum)
            #expect(try a.read(x) == b.read(y))
        }
        #expect(try Self.envelope(readFile(packed))["features"]?["required"] == .array([.string("zstd-manifest")]))
    }

    /// What a reader without the feature does with the envelope: its parser refuses it,
    /// naming the feature (the envelope carries format, version and features first).
    @Test func anOlderReaderRefusesByTheFeature() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let bytes = readFile(try Self.pair(dir).compressed)
        let range = manifestRange(of: bytes)
        let tree = try bytes[range].withUnsafeBytes { try JSON.parseTree($0) }
        #expect(throws: LatteFileError.unknownRequiredFeature("zstd-manifest")) {
            _ = try ManifestParser(dataStart: 64, dataEnd: range.lowerBound).parse(tree.root)
        }
    }

    struct Damage: CustomTestStringConvertible, Sendable {
        var name: String
        var expected: String
        var edit: @Sendable (_ manifest: inout [(String, JSONValue)], _ envelope: inout [(String, JSONValue)]) -> Void
        var testDescription: String { name }
    }

    static func set(_ m: inout [(String, JSONValue)], _ key: String, _ v: JSONValue) {
        if let i = m.firstIndex(where: { $0.0 == key }) { m[i].1 = v } else { m.append((key, v)) }
    }

    static let damages: [Damage] = [
        Damage(name: "declared size over the manifest limit", expected: "over the limit of") { m, _ in set(&m, "raw", .int(Int64(LatteLayout.maxManifestSize) + 1)) },
        Damage(name: "declared size Int.max", expected: "over the limit of") { m, _ in set(&m, "raw", .int(Int64.max)) },
        Damage(name: "declared size past the ratio bound", expected: "per stored byte") { m, _ in
            if case let .int(l)? = m.first(where: { $0.0 == "length" })?.1 { set(&m, "raw", .int(l * Int64(LatteLayout.maxCompressionRatio) + 1)) }
        },
        Damage(name: "negative size", expected: "declares -5 bytes") { m, _ in set(&m, "raw", .int(-5)) },
        Damage(name: "declared size one short", expected: "does not decode") { m, _ in
            if case let .int(r)? = m.first(where: { $0.0 == "raw" })?.1 { set(&m, "raw", .int(r - 1)) }
        },
        Damage(name: "offset Int.max", expected: "does not end where the envelope starts") { m, _ in set(&m, "offset", .int(Int64.max)) },
        Damage(name: "offset inside the header", expected: "does not end where the envelope starts") { m, _ in set(&m, "offset", .int(3)) },
        Damage(name: "length Int.max", expected: "does not end where the envelope starts") { m, _ in set(&m, "length", .int(Int64.max)) },
        Damage(name: "checksum of other text", expected: "the manifest is corrupt") { m, _ in set(&m, "xxh64", .string("0123456789abcdef")) },
        Damage(name: "unknown codec", expected: "needs codec \"zstd\"") { m, _ in set(&m, "codec", .string("lz4")) },
        Damage(name: "envelope without the feature", expected: "without the required feature") { _, e in
            set(&e, "features", .object([("required", .array([])), ("optional", .array([]))]))
        },
        Damage(name: "another unknown feature", expected: "requires feature 'later'") { _, e in
            set(&e, "features", .object([("required", .array([.string("zstd-manifest"), .string("later")])), ("optional", .array([]))]))
        },
        Damage(name: "major version 2", expected: "format version 2.0 is not supported") { _, e in
            set(&e, "version", .object([("major", .int(2)), ("minor", .int(0))]))
        },
    ]

    @Test(arguments: damages)
    func damagedEnvelopesAreRefused(_ damage: Damage) throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = try Self.pair(dir).compressed
        let bytes = readFile(path)
        var envelope = try Self.envelope(bytes).objectValue!
        var m = envelope.first { $0.0 == "manifest" }!.1.objectValue!
        damage.edit(&m, &envelope)
        Self.set(&envelope, "manifest", .object(m))
        writeFile(path, resigned(bytes, manifest: Array(JSONValue.object(envelope).serialized().utf8)))
        let message = errorText { _ = try LatteFile(path: path) }
        #expect(message.hasPrefix(path + ": "), "\(message)")
        #expect(message.contains(damage.expected), "\(damage.name): \(message)")
    }

    /// Any flipped byte of the frame is caught (by zstd or by the checksum of the text).
    @Test func aFlippedFrameByteIsCaught() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = try Self.pair(dir).compressed
        let bytes = readFile(path)
        let m = try Self.envelope(bytes)["manifest"]!
        let offset = m["offset"]!.intValue!, length = m["length"]!.intValue!
        for at in stride(from: offset, to: offset + length, by: max(1, length / 40)) {
            var damaged = bytes
            damaged[at] ^= 0x10
            writeFile(path, damaged)
            let message = errorText { _ = try LatteFile(path: path) }
            #expect(message.contains("the manifest"), "byte \(at): \(message)")
        }
    }

    /// An envelope whose frame holds another envelope is refused, not followed.
    @Test func nestedEnvelopesAreRefused() throws {
        let dir = TempDir()
        defer { dir.cleanup() }
        let path = try Self.pair(dir).compressed
        let bytes = readFile(path)
        let range = manifestRange(of: bytes)
        let inner = Array(bytes[range])
        let frame = inner.withUnsafeBytes { Zstd.compress($0, Zstd.Parameters(level: 3)) }!
        let envelope = JSONValue.object([
            ("format", .string("latte")), ("version", .object([("major", .int(1)), ("minor", .int(1))])),
            ("features", .object([("required", .array([.string("zstd-manifest")])), ("optional", .array([]))])),
            ("manifest", .object([("codec", .string("zstd")), ("offset", .int(Int64(range.lowerBound))), ("length", .int(Int64(frame.count))),
                                  ("raw", .int(Int64(inner.count))), ("xxh64", .string(hex64(XXH64.hash(inner))))])),
        ])
        let text = Array(envelope.serialized().utf8)
        var out = Array(bytes[0 ..< range.lowerBound]) + frame + text
        for v in [UInt64(range.lowerBound + frame.count), UInt64(text.count), XXH64.hash(text)] {
            for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
        }
        writeFile(path, out + LatteLayout.endMagic)
        let message = errorText { _ = try LatteFile(path: path) }
        #expect(message.contains("holds another envelope"), "\(message)")
    }
}
