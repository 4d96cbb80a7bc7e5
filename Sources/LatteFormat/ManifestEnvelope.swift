import LatteCore

/// The compressed manifest (docs/FORMAT.md, "Compressed manifest"): the manifest's JSON as
/// one zstd frame at the end of the data region, and at the trailer a small JSON envelope
/// that locates it. The envelope requires the feature `zstd-manifest`, so a reader that
/// predates it refuses the file naming that feature, instead of failing on binary bytes.
enum ManifestEnvelope {
    /// The required feature of an envelope.
    static let feature = "zstd-manifest"

    /// The frame and the envelope's text for `text`, the frame written at `offset`; nil when
    /// they would not be smaller than `text` itself (tiny manifests stay plain).
    static func wrap(_ text: [UInt8], at offset: Int, level: Int32) -> (frame: [UInt8], envelope: [UInt8])? {
        guard let frame = text.withUnsafeBytes({ Zstd.compress($0, Zstd.Parameters(level: level)) }),
              ChunkCoder.withinRatio(stored: frame.count, raw: text.count) else { return nil }
        let envelope = JSONValue.object([
            ("format", .string("latte")),
            ("version", .object([("major", .int(Int64(LatteLayout.majorVersion))), ("minor", .int(Int64(LatteLayout.minorVersion)))])),
            ("features", .object([("required", .array([.string(feature)])), ("optional", .array([]))])),
            ("manifest", .object([
                ("codec", .string("zstd")), ("offset", .int(Int64(offset))), ("length", .int(Int64(frame.count))),
                ("raw", .int(Int64(text.count))), ("xxh64", .string(hex64(XXH64.hash(text)))),
            ])),
        ])
        let envelopeText = Array(envelope.serialized().utf8)
        guard frame.count + envelopeText.count < text.count else { return nil }
        return (frame, envelopeText)
    }

    /// The manifest's text and where the data region ends, when `root` (the JSON at the
    /// trailer, which starts at `at` in `file`) is an envelope; nil when it is a plain
    /// manifest. Every number is checked before use: the frame lies right before the
    /// envelope, inside the data region; its declared size is at most
    /// `LatteLayout.maxManifestSize` and at most 2^15 times its stored size (the chunks'
    /// ratio bound); the frame decodes to exactly that size; the text's XXH64 matches.
    static func open(_ root: JSONNode, file: UnsafeRawBufferPointer, at: Int) throws(LatteFileError) -> (text: [UInt8], dataEnd: Int)? {
        guard root.isObject, let m = root["manifest"] else { return nil }
        let required = root["features"]?["required"]?.arrayValue?.compactMap(\.stringValue) ?? []
        guard required.contains(feature) else { throw .manifestInvalid("a \"manifest\" member without the required feature '\(feature)'") }
        if let major = root["version"]?["major"]?.intValue, major != Int(LatteLayout.majorVersion) {
            throw .unsupportedVersion(major: UInt16(clamping: major), minor: UInt16(clamping: root["version"]?["minor"]?.intValue ?? 0))
        }
        for f in required where f != feature && !LatteLayout.knownRequiredFeatures.contains(f) { throw .unknownRequiredFeature(f) }
        guard m["codec"]?.stringValue == "zstd", let offset = m["offset"]?.intValue, let length = m["length"]?.intValue,
              let raw = m["raw"]?.intValue, let sum = m["xxh64"]?.stringValue.flatMap(parseHex64) else {
            throw .manifestInvalid("\"manifest\" needs codec \"zstd\", offset, length, raw and xxh64")
        }
        // `at - offset` cannot overflow: `at` is inside the file and `offset` is checked first.
        guard offset >= LatteLayout.headerSize, offset < at, length == at - offset else {
            throw .manifestInvalid("the compressed manifest at \(offset) with \(length) bytes does not end where the envelope starts (byte \(at))")
        }
        guard raw >= 1 else { throw .manifestInvalid("the compressed manifest declares \(raw) bytes") }
        guard raw <= LatteLayout.maxManifestSize else { throw .manifestTooLarge(raw) }
        guard ChunkCoder.withinRatio(stored: length, raw: raw) else {
            throw .manifestInvalid("the compressed manifest declares \(raw) bytes from \(length), over \(LatteLayout.maxCompressionRatio) per stored byte")
        }
        let frame = UnsafeRawBufferPointer(rebasing: file[offset ..< at])
        var failure: Zstd.DecodeError? = nil
        let text = [UInt8](unsafeUninitializedCapacity: raw) { buf, count in
            do throws(Zstd.DecodeError) { try Zstd.decompress(frame, into: UnsafeMutableRawBufferPointer(buf)) } catch { failure = error }
            count = failure == nil ? raw : 0
        }
        if let failure { throw .manifestInvalid("the compressed manifest does not decode: \(failure)") }
        let found = XXH64.hash(text)
        guard found == sum else { throw .manifestChecksumMismatch(expected: sum, found: found) }
        return (text, offset)
    }
}
