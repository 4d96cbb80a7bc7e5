import LatteCore

/// How a chunk's stored bytes encode its raw bytes.
public enum ChunkCodec: String, Sendable, CaseIterable {
    /// The raw bytes themselves, 64-byte aligned in the file.
    case raw
    /// One zstd frame.
    case zstd
    /// Byte planes (see `BytePlanes`), each stored with its own `PlaneCodec`.
    case planes
}

/// How one byte plane of a `planes` chunk is stored.
public enum PlaneCodec: String, Sendable, CaseIterable {
    case raw, zstd, rans32
}

/// One byte plane's stored form inside a `planes` chunk.
public struct PlaneEntry: Sendable, Equatable {
    public var codec: PlaneCodec
    public var length: Int
}

/// One chunk: a run of at most `chunk_size` raw bytes of a tensor, stored in one codec.
public struct ChunkEntry: Sendable, Equatable {
    /// Absolute offset of the stored bytes in the file.
    public var offset: Int
    /// Stored bytes.
    public var length: Int
    /// Raw bytes it decodes to.
    public var raw: Int
    public var codec: ChunkCodec
    /// Element width the planes were split at (1, 2, 4 or 8); `planes` only.
    public var width: Int = 0
    /// `planes` only: one entry per plane, in plane order, lengths summing to `length`.
    public var planes: [PlaneEntry] = []
    /// Twin delta (feature `twin-xor`): the stored bytes decode to the XOR of this chunk's
    /// raw bytes with the raw bytes of the same chunk of the tensor's twin.
    public var xorTwin = false
}

/// A contiguous byte range of the file holding all chunks of some tensors.
public struct SectionEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case shared, group, extra, blob }
    public var name: String
    public var kind: Kind
    /// The expert group, for `group` sections.
    public var group: Int?
    public var offset: Int
    public var length: Int
}

/// A tensor as the manifest describes it.
public struct LatteTensor: Sendable, Equatable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var nbytes: Int
    /// Index into `LatteManifest.sections`.
    public var section: Int
    /// The mapper's `TensorRole` (its raw value) for files latte wrote; a file's other
    /// values are kept as they are, as `inspect` shows them.
    public var role: String?
    public var group: Int?
    public var layer: Int?
    /// XXH64 (seed 0) of the raw little-endian bytes.
    public var checksum: UInt64
    public var chunks: [ChunkEntry]
    /// The twin some chunks are coded against (`xorTwin`): a tensor of the same dtype and
    /// shape, itself without a twin, the twin of no other tensor.
    public var twin: String? = nil
    /// The twin's chunks and section (the reader resolves them once the manifest is validated).
    public var twinChunks: [ChunkEntry] = []
    public var twinSection: Int? = nil
    /// Set when the tensor is stored in the base checkpoint (feature `base-ref`): it then has
    /// no chunks, and its bytes are the base tensor's (FORMAT.md, "Base references").
    public var base: BaseReference? = nil
    /// The twin's reference, when the twin is stored in the base: its chunk k is then the
    /// base tensor's bytes at chunk k's offsets (the reader resolves it with `twinChunks`).
    public var twinBase: BaseReference? = nil

    /// Bytes the tensor takes in the file.
    public var storedBytes: Int { chunks.reduce(0) { $0 + $1.length } }
}

/// A file embedded verbatim (e.g. reference inputs and outputs), stored in raw/zstd chunks.
public struct LatteBlob: Sendable, Equatable {
    public var name: String
    public var section: Int
    public var nbytes: Int
    public var checksum: UInt64
    public var chunks: [ChunkEntry]
}

/// The manifest: the JSON document that describes everything in a `.latte` file.
public struct LatteManifest: Sendable {
    public var major: Int = Int(LatteLayout.majorVersion)
    public var minor: Int = Int(LatteLayout.minorVersion)
    public var requiredFeatures: [String]
    public var optionalFeatures: [String]
    public var chunkSize: Int
    /// The source's string metadata (safetensors `__metadata__`), written back by export.
    public var metadata: [(String, String)]
    /// Where the weights came from; free-form beyond the members FORMAT.md lists.
    public var provenance: JSONValue
    public var sections: [SectionEntry]
    public var tensors: [LatteTensor]
    public var blobs: [LatteBlob]
    /// The base checkpoint's files, when some tensor is a reference (`base-ref`).
    public var base: [BaseFile]? = nil

    /// The plan's `groups` array (as `map --json` prints it), when the file was mapped.
    public var planGroups: JSONValue? { provenance["plan"]?["groups"] }
}

// MARK: - Writing

extension ChunkEntry {
    var json: JSONValue {
        var m: [(String, JSONValue)] = [
            ("offset", .int(Int64(offset))), ("length", .int(Int64(length))), ("raw", .int(Int64(raw))),
            ("codec", .string(codec.rawValue)),
        ]
        if codec == .planes {
            m.append(("width", .int(Int64(width))))
            m.append(("planes", .array(planes.map { .object([("codec", .string($0.codec.rawValue)), ("length", .int(Int64($0.length)))]) })))
        }
        if xorTwin { m.append(("delta", .string("xor"))) }
        return .object(m)
    }
}

extension SectionEntry {
    var json: JSONValue {
        var m: [(String, JSONValue)] = [("name", .string(name)), ("kind", .string(kind.rawValue))]
        if let group { m.append(("group", .int(Int64(group)))) }
        m += [("offset", .int(Int64(offset))), ("length", .int(Int64(length)))]
        return .object(m)
    }
}

extension LatteTensor {
    var json: JSONValue {
        var m: [(String, JSONValue)] = [
            ("name", .string(name)), ("dtype", .string(dtype.name)),
            ("shape", .array(shape.map { .int(Int64($0)) })), ("nbytes", .int(Int64(nbytes))),
            ("section", .int(Int64(section))),
        ]
        if let role { m.append(("role", .string(role))) }
        if let group { m.append(("group", .int(Int64(group)))) }
        if let layer { m.append(("layer", .int(Int64(layer)))) }
        m.append(("xxh64", .string(hex64(checksum))))
        if let base { m.append(("base", base.json)); return .object(m) }
        if let twin { m.append(("twin", .string(twin))) }
        m.append(("chunks", .array(chunks.map(\.json))))
        return .object(m)
    }
}

extension LatteBlob {
    var json: JSONValue {
        .object([
            ("name", .string(name)), ("section", .int(Int64(section))), ("nbytes", .int(Int64(nbytes))),
            ("xxh64", .string(hex64(checksum))), ("chunks", .array(chunks.map(\.json))),
        ])
    }
}

extension LatteManifest {
    /// The members before the three entry lists, in document order.
    private var head: [(String, JSONValue)] {
        [
            ("format", .string("latte")),
            ("version", .object([("major", .int(Int64(major))), ("minor", .int(Int64(minor)))])),
            ("features", .object([
                ("required", .array(requiredFeatures.map { .string($0) })),
                ("optional", .array(optionalFeatures.map { .string($0) })),
            ])),
            ("checksum", .string("xxh64")),
            ("chunk_size", .int(Int64(chunkSize))),
            ("alignment", .int(Int64(LatteLayout.alignment))),
            ("metadata", .object(metadata.map { ($0.0, .string($0.1)) })),
            ("provenance", provenance),
        ] + (base.map { [("base", BaseFile.json($0))] } ?? [])
    }

    /// The manifest document as one value (tests and tools; the writer streams `serializedText`).
    public var json: JSONValue {
        .object(head + [
            ("sections", .array(sections.map(\.json))),
            ("tensors", .array(tensors.map(\.json))),
            ("blobs", .array(blobs.map(\.json))),
        ])
    }

    /// The compact serialization of `json`, byte for byte, built one entry at a time: a
    /// value tree of the whole manifest costs about 2 KB per tensor (a checkpoint of 461,000
    /// tiny tensors took 1.1 GB to convert), while this holds only the text and one entry.
    public func serializedText() -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(256 + 160 * (sections.count + tensors.count + blobs.count))
        // Keys are ASCII literals: serializing a one-member object gives `{"key":value}`,
        // whose inside is exactly the member's text.
        for (i, (key, value)) in head.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out += JSONValue.object([(key, value)]).serialized().utf8.dropFirst().dropLast()
        }
        func list(_ key: String, _ count: Int, _ item: (Int) -> JSONValue) {
            out += ",\"\(key)\":[".utf8
            for i in 0 ..< count {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                out += item(i).serialized().utf8
            }
            out.append(UInt8(ascii: "]"))
        }
        list("sections", sections.count) { sections[$0].json }
        list("tensors", tensors.count) { tensors[$0].json }
        list("blobs", blobs.count) { blobs[$0].json }
        out.append(UInt8(ascii: "}"))
        return out
    }
}

// MARK: - Reading

/// Decoding and validation of a manifest against the file it came from: every offset is
/// checked against the data region, every size and count is bounded, before anything is used.
struct ManifestParser {
    /// The data region: after the header, before the manifest.
    let dataStart: Int
    let dataEnd: Int

    typealias Fail = LatteFileError

    func parse(_ root: JSONNode) throws(LatteFileError) -> LatteManifest {
        guard root.isObject else { throw .manifestInvalid("expected an object, found \(root.typeName)") }
        guard root["format"]?.stringValue == "latte" else { throw .manifestInvalid("\"format\" must be \"latte\"") }
        guard let major = root["version"]?["major"]?.intValue, let minor = root["version"]?["minor"]?.intValue else {
            throw .manifestInvalid("\"version\" must be {\"major\": int, \"minor\": int}")
        }
        guard major == Int(LatteLayout.majorVersion) else {
            throw .unsupportedVersion(major: UInt16(clamping: major), minor: UInt16(clamping: minor))
        }
        let required = try strings(root["features"]?["required"], "features.required")
        let optional = try strings(root["features"]?["optional"], "features.optional")
        for f in required where !LatteLayout.knownRequiredFeatures.contains(f) { throw .unknownRequiredFeature(f) }
        guard root["checksum"]?.stringValue == "xxh64" else { throw .manifestInvalid("\"checksum\" must be \"xxh64\"") }
        // The writer's rule (a multiple of 8, so chunks hold whole elements of any dtype).
        guard let chunkSize = root["chunk_size"]?.intValue, chunkSize > 0, chunkSize % 8 == 0,
              chunkSize <= LatteLayout.maxChunkSize else {
            throw .manifestInvalid("\"chunk_size\" must be a multiple of 8 in 8...\(LatteLayout.maxChunkSize)")
        }
        let metadata = try self.metadata(root["metadata"])
        let provenance = root["provenance"]?.value ?? .object([])
        let base = try baseFiles(root["base"])
        let sections = try self.sections(root["sections"])
        let tensors = try TwinRules.resolve(try self.tensors(root["tensors"], sections: sections, chunkSize: chunkSize))
        try BaseRules.check(tensors, files: base, required: required)
        let blobs = try self.blobs(root["blobs"], sections: sections, chunkSize: chunkSize)
        try checkDisjoint(sections)
        try checkDisjoint(tensors: tensors, blobs: blobs)
        try checkRawTotal(tensors.map(\.nbytes) + blobs.map(\.nbytes))
        return LatteManifest(major: major, minor: minor, requiredFeatures: required, optionalFeatures: optional,
                             chunkSize: chunkSize, metadata: metadata, provenance: provenance,
                             sections: sections, tensors: tensors, blobs: blobs, base: base)
    }

    /// `metadata`: an optional object of strings, each key and value within `TensorRules`.
    private func metadata(_ m: JSONNode?) throws(LatteFileError) -> [(String, String)] {
        guard let m else { return [] }
        guard let members = m.objectValue else { throw .manifestInvalid("\"metadata\" must be an object of strings") }
        var metadata: [(String, String)] = []
        for (k, v) in members {
            guard let s = v.stringValue else { throw .manifestInvalid("\"metadata\" value of '\(k)' is not a string") }
            if let why = TensorRules.metadataProblem(key: k, value: s) { throw .manifestInvalid("\"metadata\": \(why)") }
            metadata.append((k, s))
        }
        return metadata
    }

    /// `sections`, each inside the data region.
    private func sections(_ v: JSONNode?) throws(LatteFileError) -> [SectionEntry] {
        guard let sectionValues = v?.arrayValue, sectionValues.count <= LatteLayout.maxEntries else {
            throw .manifestInvalid("\"sections\" must be an array")
        }
        var sections: [SectionEntry] = []
        for (i, s) in sectionValues.enumerated() {
            guard let name = s["name"]?.stringValue, let kindName = s["kind"]?.stringValue,
                  let kind = SectionEntry.Kind(rawValue: kindName),
                  let offset = s["offset"]?.intValue, let length = s["length"]?.intValue else {
                throw .manifestInvalid("section \(i) needs a name, a kind (shared, group, extra, blob), an offset and a length")
            }
            let group = s["group"]?.intValue
            if kind == .group && (group == nil || group! < 0) { throw .manifestInvalid("section '\(name)' is a group section without a group index") }
            guard inData(offset, length) else { throw .manifestInvalid("section '\(name)' lies outside the data region") }
            sections.append(SectionEntry(name: name, kind: kind, group: group, offset: offset, length: length))
        }
        return sections
    }

    /// `tensors`, each named once.
    private func tensors(_ v: JSONNode?, sections: [SectionEntry], chunkSize: Int) throws(LatteFileError) -> [LatteTensor] {
        guard let tensorValues = v?.arrayValue, tensorValues.count <= LatteLayout.maxEntries else {
            throw .manifestInvalid("\"tensors\" must be an array")
        }
        var tensors: [LatteTensor] = []
        tensors.reserveCapacity(tensorValues.count)
        var seen = Set<String>()
        for (i, t) in tensorValues.enumerated() {
            guard let name = t["name"]?.stringValue else { throw .manifestInvalid("tensor \(i) has no name") }
            if let why = TensorRules.nameProblem(name) { throw .tensorEntryInvalid(tensor: name, reason: why) }
            guard seen.insert(name).inserted else { throw .manifestInvalid("tensor '\(name)' appears twice") }
            tensors.append(try tensor(t, name: name, sections: sections, chunkSize: chunkSize))
        }
        return tensors
    }

    /// `blobs`: optional; the embedded files, in raw or zstd chunks.
    private func blobs(_ v: JSONNode?, sections: [SectionEntry], chunkSize: Int) throws(LatteFileError) -> [LatteBlob] {
        guard let v else { return [] }
        guard let arr = v.arrayValue, arr.count <= LatteLayout.maxEntries else { throw .manifestInvalid("\"blobs\" must be an array") }
        var blobs: [LatteBlob] = []
        for (i, b) in arr.enumerated() {
            guard let name = b["name"]?.stringValue else { throw .manifestInvalid("embedded file \(i) has no name") }
            func bad(_ why: String) -> LatteFileError { .blobEntryInvalid(blob: name, reason: why) }
            guard let section = b["section"]?.intValue, sections.indices.contains(section) else { throw bad("no such section") }
            guard let nbytes = b["nbytes"]?.intValue, nbytes >= 0 else { throw bad("\"nbytes\" must be a non-negative integer") }
            guard let sum = b["xxh64"]?.stringValue.flatMap(parseHex64) else { throw bad("\"xxh64\" must be 16 lowercase hex digits") }
            let chunks: [ChunkEntry]
            do throws(LatteFileError) {
                chunks = try self.chunks(b["chunks"], total: nbytes, width: 1, section: sections[section], chunkSize: chunkSize, owner: name)
            } catch { throw bad(reason(error)) }
            guard chunks.allSatisfy({ $0.codec != .planes && !$0.xorTwin }) else { throw bad("embedded files use raw or zstd chunks only, without deltas") }
            blobs.append(LatteBlob(name: name, section: section, nbytes: nbytes, checksum: sum, chunks: chunks))
        }
        return blobs
    }

    /// Checked once here, because every later sum of sizes (export's data size, inspect's
    /// totals) relies on it. (With chunks disjoint and within the ratio bound, the sum is
    /// at most 2^15 times the data region anyway.)
    private func checkRawTotal(_ sizes: [Int]) throws(LatteFileError) {
        var rawTotal = 0
        for n in sizes {
            let (s, o) = rawTotal.addingReportingOverflow(n)
            guard !o else { throw .manifestInvalid("the tensors' sizes add up past \(Int.max) bytes") }
            rawTotal = s
        }
    }

    /// Sections may not share bytes (empty ones share none): a group's section holds its
    /// tensors' chunks and nothing of another section.
    private func checkDisjoint(_ sections: [SectionEntry]) throws(LatteFileError) {
        let order = sections.indices.filter { sections[$0].length > 0 }.sorted { sections[$0].offset < sections[$1].offset }
        for (a, b) in zip(order, order.dropFirst()) where sections[a].offset + sections[a].length > sections[b].offset {
            throw .manifestInvalid("sections '\(sections[a].name)' and '\(sections[b].name)' overlap")
        }
    }

    /// No two chunks may share a stored byte. Without this, a thousand chunks of 64 MiB could
    /// all point at one frame of 2 KB, and a file's decoding work would be unrelated to its size.
    private func checkDisjoint(tensors: [LatteTensor], blobs: [LatteBlob]) throws(LatteFileError) {
        struct Stored { var start: Int; var end: Int; var owner: Int32; var chunk: Int32 }
        var ranges: [Stored] = []
        ranges.reserveCapacity(tensors.reduce(0) { $0 + $1.chunks.count } + blobs.reduce(0) { $0 + $1.chunks.count })
        // Owners 0..<tensors.count are tensors, the rest blobs. Entry counts are at most 10^7.
        for (i, t) in tensors.enumerated() {
            for (k, c) in t.chunks.enumerated() { ranges.append(Stored(start: c.offset, end: c.offset + c.length, owner: Int32(i), chunk: Int32(k))) }
        }
        for (i, b) in blobs.enumerated() {
            for (k, c) in b.chunks.enumerated() {
                ranges.append(Stored(start: c.offset, end: c.offset + c.length, owner: Int32(tensors.count + i), chunk: Int32(k)))
            }
        }
        ranges.sort { $0.start != $1.start ? $0.start < $1.start : $0.end < $1.end }
        for (a, b) in zip(ranges, ranges.dropFirst()) where a.end > b.start {
            func name(_ r: Stored) -> String {
                Int(r.owner) < tensors.count ? "tensor '\(tensors[Int(r.owner)].name)'" : "embedded file '\(blobs[Int(r.owner) - tensors.count].name)'"
            }
            let why = "chunk \(b.chunk) (\(b.end - b.start) bytes at \(b.start)) overlaps chunk \(a.chunk) of \(name(a)) (\(a.end - a.start) bytes at \(a.start))"
            if Int(b.owner) < tensors.count { throw .tensorEntryInvalid(tensor: tensors[Int(b.owner)].name, reason: why) }
            throw .blobEntryInvalid(blob: blobs[Int(b.owner) - tensors.count].name, reason: why)
        }
    }

    private func reason(_ e: LatteFileError) -> String {
        if case let .tensorEntryInvalid(_, r) = e { return r }
        return e.description
    }

    private func inData(_ offset: Int, _ length: Int) -> Bool {
        offset >= dataStart && length >= 0 && offset <= dataEnd && length <= dataEnd - offset
    }

    private func strings(_ v: JSONNode?, _ what: String) throws(LatteFileError) -> [String] {
        guard let arr = v?.arrayValue else { throw .manifestInvalid("\"\(what)\" must be an array of strings") }
        var out: [String] = []
        for x in arr {
            guard let s = x.stringValue else { throw .manifestInvalid("\"\(what)\" must be an array of strings") }
            out.append(s)
        }
        return out
    }

    private func tensor(_ t: JSONNode, name: String, sections: [SectionEntry], chunkSize: Int) throws(LatteFileError) -> LatteTensor {
        func bad(_ why: String) -> LatteFileError { .tensorEntryInvalid(tensor: name, reason: why) }
        guard let dn = t["dtype"]?.stringValue, let dtype = DType(rawValue: dn) else { throw bad("unknown or missing dtype") }
        guard let dims = t["shape"]?.arrayValue, dims.count <= TensorRules.maxRank else {
            throw bad("\"shape\" must be an array of at most \(TensorRules.maxRank) integers")
        }
        var shape: [Int] = []
        for d in dims {
            guard let v = d.intValue, v >= 0 else { throw bad("\"shape\" has a dimension that is not a non-negative integer") }
            shape.append(v)
        }
        // Both products are overflow-checked: a shape may describe more than Int.max elements.
        guard let count = elementCount(of: shape) else { throw bad("\"shape\" \(shape) has more than \(Int.max) elements") }
        guard let expected = dtype.byteCount(elements: count) else {
            throw bad("\(dtype.name) \(shape) takes more than \(Int.max) bytes or does not make a whole number of bytes")
        }
        guard let nbytes = t["nbytes"]?.intValue, nbytes == expected else { throw bad("\"nbytes\" must be \(expected) for \(dtype.name) \(shape)") }
        guard let section = t["section"]?.intValue, sections.indices.contains(section) else { throw bad("\"section\" is not the index of a section") }
        guard let sum = t["xxh64"]?.stringValue.flatMap(parseHex64) else { throw bad("\"xxh64\" must be 16 lowercase hex digits") }
        var role: String?, group: Int?, layer: Int?
        if let r = t["role"] { guard let s = r.stringValue else { throw bad("\"role\" must be a string") }; role = s }
        if let g = t["group"] { guard let v = g.intValue, v >= 0 else { throw bad("\"group\" must be a non-negative integer") }; group = v }
        if let l = t["layer"] { guard let v = l.intValue, v >= 0 else { throw bad("\"layer\" must be a non-negative integer") }; layer = v }
        if let ref = t["base"] {
            let base = try baseReference(ref, tensor: t, name: name, checksum: sum)
            return LatteTensor(name: name, dtype: dtype, shape: shape, nbytes: nbytes, section: section, role: role,
                               group: group, layer: layer, checksum: sum, chunks: [], base: base)
        }
        let width = dtype.byteWidth.map { _ in dtype.swapUnit } ?? 1
        let chunks = try self.chunks(t["chunks"], total: nbytes, width: width, section: sections[section], chunkSize: chunkSize, owner: name)
        var twin: String?
        if let tw = t["twin"] { guard let s = tw.stringValue else { throw bad("\"twin\" must be a string") }; twin = s }
        if twin == nil, let k = chunks.firstIndex(where: \.xorTwin) { throw bad("chunk \(k) is a twin delta, and the tensor has no \"twin\"") }
        return LatteTensor(name: name, dtype: dtype, shape: shape, nbytes: nbytes, section: section, role: role,
                           group: group, layer: layer, checksum: sum, chunks: chunks, twin: twin)
    }

    /// Chunks of one tensor or blob: each inside its section, raw sizes summing to `total`.
    private func chunks(_ v: JSONNode?, total: Int, width: Int, section: SectionEntry, chunkSize: Int, owner: String) throws(LatteFileError) -> [ChunkEntry] {
        func bad(_ why: String) -> LatteFileError { .tensorEntryInvalid(tensor: owner, reason: why) }
        guard let arr = v?.arrayValue else { throw bad("\"chunks\" must be an array") }
        // A chunk holds at least one byte, so more chunks than bytes is impossible.
        guard arr.count <= max(total, 0), arr.count <= LatteLayout.maxEntries else { throw bad("\(arr.count) chunks for \(total) bytes") }
        var out: [ChunkEntry] = []
        out.reserveCapacity(arr.count)
        var sum = 0
        for (k, c) in arr.enumerated() {
            guard let offset = c["offset"]?.intValue, let length = c["length"]?.intValue, let raw = c["raw"]?.intValue,
                  let cn = c["codec"]?.stringValue else { throw bad("chunk \(k) needs offset, length, raw and codec") }
            guard let codec = ChunkCodec(rawValue: cn) else { throw bad("chunk \(k) has unknown codec '\(cn)'") }
            // The writer's chunking: `chunk_size` bytes each, the last one shorter.
            if k < arr.count - 1 {
                guard raw == chunkSize else { throw bad("chunk \(k) has \(raw) raw bytes; every chunk but the last has chunk_size (\(chunkSize))") }
            } else {
                guard raw > 0, raw <= chunkSize else { throw bad("chunk \(k) has \(raw) raw bytes, outside 1...\(chunkSize)") }
            }
            // The section lies inside the data region (checked), so its end does not overflow.
            guard length > 0, offset >= section.offset, offset <= section.offset + section.length,
                  length <= section.offset + section.length - offset else {
                throw bad("chunk \(k) (\(length) bytes at \(offset)) lies outside its section '\(section.name)'")
            }
            let (bound, huge) = length.multipliedReportingOverflow(by: LatteLayout.maxCompressionRatio)
            guard huge || raw <= bound else {
                throw bad("chunk \(k) decodes \(length) stored bytes to \(raw), over \(LatteLayout.maxCompressionRatio) raw bytes per stored byte")
            }
            var entry = ChunkEntry(offset: offset, length: length, raw: raw, codec: codec)
            if let d = c["delta"] {
                guard d.stringValue == "xor", codec != .raw else { throw bad("chunk \(k): \"delta\" must be \"xor\", on a zstd or planes chunk") }
                entry.xorTwin = true
            }
            switch codec {
            case .raw:
                guard length == raw else { throw bad("raw chunk \(k) stores \(length) bytes for \(raw)") }
                guard offset % LatteLayout.alignment == 0 else { throw bad("raw chunk \(k) at \(offset) is not \(LatteLayout.alignment)-byte aligned") }
            case .zstd:
                break
            case .planes:
                guard let w = c["width"]?.intValue, [1, 2, 4, 8].contains(w), w == width || w == 1 else {
                    throw bad("planes chunk \(k) needs \"width\" \(width) (or 1)")
                }
                guard raw % w == 0 else { throw bad("planes chunk \(k): \(raw) bytes are not whole \(w)-byte elements") }
                guard let ps = c["planes"]?.arrayValue, ps.count == w else { throw bad("planes chunk \(k) needs \(w) planes") }
                var plen = 0
                for p in ps {
                    guard let pn = p["codec"]?.stringValue, let pc = PlaneCodec(rawValue: pn), let l = p["length"]?.intValue, l >= 0 else {
                        throw bad("planes chunk \(k) has a plane without a known codec and a length")
                    }
                    if pc == .raw, l != raw / w { throw bad("planes chunk \(k): a raw plane stores \(l) bytes for \(raw / w)") }
                    // Each plane lies inside the chunk: its length, and the running sum, are at
                    // most `length` (no sum of hostile lengths can overflow).
                    guard l <= length - plen else { throw bad("planes chunk \(k): plane lengths sum past the chunk's \(length) bytes") }
                    entry.planes.append(PlaneEntry(codec: pc, length: l))
                    plen += l
                }
                guard plen == length else { throw bad("planes chunk \(k): plane lengths sum to \(plen), not \(length)") }
                entry.width = w
            }
            // raw ≤ 64 MiB and chunks ≤ 10^7: no overflow; checked against `total` at once.
            sum += raw
            guard sum <= total else { throw bad("chunks hold more than the tensor's \(total) bytes") }
            out.append(entry)
        }
        guard sum == total else { throw bad("chunks hold \(sum) bytes, the tensor has \(total)") }
        return out
    }
}
