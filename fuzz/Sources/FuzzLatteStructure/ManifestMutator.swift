import FuzzSupport
import LatteCore

/// Structural mutations of a `.latte` manifest, each one a kind of lie a hostile file can
/// tell: sizes at integer boundaries, plane lengths that overflow when summed, chunks that
/// alias or overlap other chunks, repeated chunks and tensors (more decoded bytes than stored
/// bytes, several batches per stream), shapes and ranks, names with NUL, lone surrogates,
/// terminal escapes or `__metadata__`, codecs and widths, duplicate entries and keys, base
/// references (BaseReferenceMutation.swift).
/// After a mutation the touched entries are made consistent again where that is cheap
/// (`nbytes` and a flat `shape` from the chunks, `xxh64` from the decoded chunks), so the
/// parser's simple checks pass and the code behind them runs.
struct ManifestMutator {
    var image: LatteImage
    var contents: ChunkContents
    var r: FuzzRandom
    /// When false, checksums are left stale (mismatch paths are worth running too).
    var resign = true
    /// Chunk entries one mutation may create: beyond this the manifest outgrows the input
    /// size limit anyway, and serializing it would only cost the mutator time.
    static let maxNewChunks = 8192

    mutating func mutate() {
        switch r.below(21) {
        case 0, 1: boundaryNumber()
        case 2: planeLengths()
        case 3, 4: aliasChunk()
        case 5: overlapChunk()
        case 6, 7: repeatChunks()
        case 8: replicateTensor()
        case 9: dropChunk()
        case 10: truncateChunk()
        case 11: reshape()
        case 12: rename()
        case 13: codec()
        case 14: duplicateEntry()
        case 15: duplicateKey()
        case 16: retype()
        case 17: metadata()
        case 18: sections()
        case 19: reference()
        default: BombChunk.add(&self)
        }
    }

    // MARK: access

    var tensorCount: Int { image.manifest["tensors"]?.itemCount ?? 0 }

    func tensor(_ i: Int) -> JSONValue? { image.manifest["tensors"]?.arrayValue?[i] }

    mutating func modifyTensor(_ i: Int, _ change: (inout JSONValue) -> Void) {
        image.manifest.modify("tensors") { $0.modify(item: i, change) }
    }

    /// A tensor with at least one chunk (index), if any.
    mutating func tensorWithChunks() -> Int? {
        let candidates = (0 ..< tensorCount).filter { (tensor($0)?["chunks"]?.itemCount ?? 0) > 0 }
        return candidates.isEmpty ? nil : r.pick(candidates)
    }

    /// Every chunk of every tensor, as (tensor, chunk) positions.
    var allChunks: [(Int, Int)] {
        (0 ..< tensorCount).flatMap { t in (0 ..< (tensor(t)?["chunks"]?.itemCount ?? 0)).map { (t, $0) } }
    }

    func chunk(_ p: (Int, Int)) -> JSONValue? { tensor(p.0)?["chunks"]?.arrayValue?[p.1] }

    /// `nbytes` = the chunks' raw sizes; `shape` flat when the dtype divides it; `xxh64`
    /// re-signed when every chunk's bytes are known.
    mutating func normalize(_ i: Int) {
        let contents = self.contents, front = image.front, resign = self.resign
        modifyTensor(i) { t in
            let chunks = t["chunks"]?.arrayValue ?? []
            var total = 0
            for c in chunks { total = total &+ (c["raw"]?.intValue ?? 0) }
            t.set("nbytes", .int(Int64(total)))
            let (bits, overflow) = total.multipliedReportingOverflow(by: 8)
            if let d = t["dtype"]?.stringValue.flatMap(DType.init(rawValue:)), !overflow, bits >= 0, bits % d.bitWidth == 0 {
                t.set("shape", .array([.int(Int64(bits / d.bitWidth))]))
            }
            if resign { contents.resign(&t, front: front) }
        }
    }

    // MARK: mutations

    /// A number anywhere (offsets, lengths, raw sizes, shapes, sections, chunk size, version)
    /// set to an integer boundary or a neighbour of its value.
    mutating func boundaryNumber() {
        var paths: [[Int]] = []
        image.manifest.integerPaths(into: &paths)
        guard !paths.isEmpty else { return }
        let path = r.pick(paths)
        let dataEnd = Int64(image.front.count)
        var r = self.r
        image.manifest.modify(path: path[...]) { v in
            let old: Int64 = if case let .int(i) = v { i } else { 0 }
            switch r.below(10) {
            case 0: v = .uint(r.pick([UInt64(1) << 63, UInt64.max, UInt64.max - 1]))
            case 1: v = .int(dataEnd &- old)
            case 2: v = .int(dataEnd &+ Int64(r.within(-64 ... 64)))
            case 3: v = .double(r.pick([0.5, -0.0, 1e300, 9.2233720368547758e18]))
            default: v = .int(r.boundary(near: old))
            }
        }
        self.r = r
    }

    /// Plane lengths that still sum to the chunk's length in wrapping arithmetic, or that
    /// are moved between planes: `Int64.max` and a small one overflow an unchecked sum.
    mutating func planeLengths() {
        let planes = allChunks.filter { chunk($0)?["planes"]?.itemCount ?? 0 >= 2 }
        guard !planes.isEmpty else { return }
        let (t, k) = r.pick(planes)
        var r = self.r
        modifyTensor(t) { tv in
            tv.modify("chunks") { cs in
                cs.modify(item: k) { c in
                    let n = c["planes"]?.itemCount ?? 0
                    let a = r.below(n), b = (a + 1 + r.below(n - 1)) % n
                    c.modify("planes") { ps in
                        var la: Int64 = 0, lb: Int64 = 0
                        ps.modify(item: a) { if case let .int(x) = $0["length"] ?? .null { la = x } }
                        ps.modify(item: b) { if case let .int(x) = $0["length"] ?? .null { lb = x } }
                        let shift: Int64 = r.chance(50) ? Int64.max &- la : Int64(r.within(1 ... 16))
                        ps.modify(item: a) { $0.set("length", .int(la &+ shift)) }
                        ps.modify(item: b) { $0.set("length", .int(lb &- shift)) }
                    }
                }
            }
        }
        self.r = r
    }

    /// Chunk A becomes a copy of chunk B (preferably of the same dtype, so the width check
    /// passes): two chunks, or two tensors, decode the same stored bytes.
    mutating func aliasChunk() {
        let chunks = allChunks
        guard chunks.count >= 1 else { return }
        let a = r.pick(chunks)
        let dtype = tensor(a.0)?["dtype"]
        let same = chunks.filter { tensor($0.0)?["dtype"] == dtype }
        let b = r.chance(80) && !same.isEmpty ? r.pick(same) : r.pick(chunks)
        guard let source = chunk(b) else { return }
        modifyTensor(a.0) { $0.modify("chunks") { $0.modify(item: a.1) { $0 = source } } }
        normalize(a.0)
    }

    /// A chunk moved to start inside another chunk's stored bytes (partial overlap).
    mutating func overlapChunk() {
        let chunks = allChunks
        guard chunks.count >= 2 else { return }
        let a = r.pick(chunks), b = r.pick(chunks)
        guard let bo = chunk(b)?["offset"]?.intValue, let bl = chunk(b)?["length"]?.intValue, bl > 1 else { return }
        let start = bo &+ r.within(1 ... bl - 1)
        modifyTensor(a.0) { $0.modify("chunks") { $0.modify(item: a.1) { $0.set("offset", .int(Int64(start))) } } }
    }

    /// A tensor's chunk list repeated k times (k up to 4097): decoded bytes grow while the
    /// stored bytes stay; with more than one batch of chunks, a bad chunk in the first batch
    /// throws while the next batch is in flight.
    mutating func repeatChunks() {
        guard let t = tensorWithChunks(), let chunks = tensor(t)?["chunks"]?.arrayValue else { return }
        let k = r.pick([2, 3, 5, 9, 17, 33, 129, 1025, 4097])
        var repeated: [JSONValue] = []
        if r.chance(50), chunks.count * k <= Self.maxNewChunks {
            for _ in 0 ..< k { repeated += chunks }
        } else {
            // One chunk repeated (the file's only chunk when the tensor has one).
            let c = r.pick(chunks)
            repeated = chunks + [JSONValue](repeating: c, count: k)
        }
        modifyTensor(t) { $0.set("chunks", .array(repeated)) }
        normalize(t)
    }

    /// Copies of a tensor under new names: many tensors share one storage, and `export`
    /// streams them all in one pass of several batches.
    mutating func replicateTensor() {
        guard tensorCount > 0, let source = tensor(r.below(tensorCount)),
              let name = source["name"]?.stringValue else { return }
        let perCopy = max(1, source["chunks"]?.itemCount ?? 0)
        let n = min(r.pick([1, 8, 9, 17, 65, 300]), max(1, Self.maxNewChunks / perCopy))
        var copies: [JSONValue] = []
        for i in 0 ..< n {
            var c = source
            c.set("name", .string("\(name)#\(i)"))
            copies.append(c)
        }
        image.manifest.modify("tensors") { if case let .array(items) = $0 { $0 = .array(items + copies) } }
    }

    mutating func dropChunk() {
        guard let t = tensorWithChunks(), var chunks = tensor(t)?["chunks"]?.arrayValue else { return }
        chunks.remove(at: r.below(chunks.count))
        modifyTensor(t) { $0.set("chunks", .array(chunks)) }
        normalize(t)
    }

    /// A chunk whose stored length is cut short (a short zstd frame, a plane stream missing
    /// its tail): the decoder fails part way through a batch.
    mutating func truncateChunk() {
        let chunks = allChunks
        guard !chunks.isEmpty else { return }
        let p = r.pick(chunks)
        guard let c = chunk(p), let length = c["length"]?.intValue, length > 1 else { return }
        let cut = r.chance(50) ? 1 : r.within(1 ... length - 1)
        var r = self.r
        modifyTensor(p.0) { t in
            t.modify("chunks") { cs in
                cs.modify(item: p.1) { c in
                    c.set("length", .int(Int64(length - cut)))
                    // Keep the plane lengths summing to the chunk's: cut the last plane.
                    let n = c["planes"]?.itemCount ?? 0
                    if n > 0 {
                        let which = r.chance(70) ? n - 1 : r.below(n)
                        c.modify("planes") { ps in
                            ps.modify(item: which) { pl in
                                if let l = pl["length"]?.intValue { pl.set("length", .int(Int64(l &- cut))) }
                            }
                        }
                    }
                    if c["codec"]?.stringValue == "raw", r.chance(50) { c.set("raw", .int(Int64(length - cut))) }
                }
            }
        }
        self.r = r
        if r.chance(50) { normalize(p.0) }
    }

    /// Shapes: the same element count spread over more dimensions (rank up to 70, past the
    /// format's 64), zero and huge dimensions (with `nbytes` following in wrapping arithmetic).
    mutating func reshape() {
        guard tensorCount > 0 else { return }
        let t = r.below(tensorCount)
        guard let shape = tensor(t)?["shape"]?.arrayValue?.compactMap(\.intValue) else { return }
        let dtype = tensor(t)?["dtype"]?.stringValue.flatMap(DType.init(rawValue:))
        var new = shape
        var fixNbytes = false
        switch r.below(5) {
        case 0: // pad with ones
            let rank = r.pick([2, 8, 63, 64, 65, 70])
            while new.count < rank { new.insert(1, at: r.below(new.count + 1)) }
        case 1: // split a dimension
            if let i = new.indices.randomElement(using: &r), new[i] % 2 == 0, new[i] > 0 { new[i] /= 2; new.insert(2, at: i) }
        case 2: // huge dimensions whose product overflows or is merely huge
            new = [r.pick([1 << 31, 1 << 32, 1 << 40, Int.max]), r.pick([1 << 31, 1 << 33, 2, 0])]
            fixNbytes = true
        case 3: // empty
            new = r.chance(50) ? [] : [0]
            fixNbytes = true
        default: // drop a dimension
            if !new.isEmpty { new.remove(at: r.below(new.count)) }
        }
        modifyTensor(t) { v in
            v.set("shape", .array(new.map { .int(Int64($0)) }))
            if fixNbytes, let d = dtype {
                var n = 1
                for x in new { n = n &* x }
                v.set("nbytes", .int(Int64(n &* d.bitWidth / 8)))
            }
        }
    }

    /// Names a writer must refuse or escape, or that collide once cut at a NUL.
    mutating func rename() {
        guard tensorCount > 0 else { return }
        let t = r.below(tensorCount)
        let old = tensor(t)?["name"]?.stringValue ?? "w"
        let other = tensor(r.below(tensorCount))?["name"]?.stringValue ?? "w"
        let name: String = switch r.below(10) {
        case 0: old + "\u{0}x"
        case 1: other + "\u{0}" + String(t)
        case 2: "__metadata__"
        case 3: old + LatteImage.loneSurrogateMarker
        case 4: "\u{1B}[31m\u{1B}]0;title\u{07}" + old
        case 5: other
        case 6: ""
        case 7: String(repeating: "x", count: r.pick([255, 256, 4096, 70000]))
        case 8: old + "\u{0}"
        default: "../" + old + "\r\n"
        }
        modifyTensor(t) { $0.set("name", .string(name)) }
        if r.chance(30) { // the same for a metadata key or an embedded file name
            image.manifest.modify("blobs") { $0.modify(item: 0) { $0.set("name", .string(name)) } }
        }
    }

    /// Codecs, plane codecs, widths and plane counts outside what the dtype implies.
    mutating func codec() {
        let chunks = allChunks
        guard !chunks.isEmpty else { return }
        let p = r.pick(chunks)
        var r = self.r
        modifyTensor(p.0) { t in
            t.modify("chunks") { cs in
                cs.modify(item: p.1) { c in
                    switch r.below(5) {
                    case 0: c.set("codec", .string(r.pick(["raw", "zstd", "planes", "rans32", "rans", ""])))
                    case 1: c.set("width", .int(Int64(r.pick([0, 1, 2, 3, 4, 8, 16, -1]))))
                    case 2:
                        c.modify("planes") { ps in
                            ps.modify(item: r.below(max(1, ps.itemCount))) { $0.set("codec", .string(r.pick(["raw", "zstd", "rans32", "planes", "rans"]))) }
                        }
                    case 3:
                        c.modify("planes") { ps in
                            if case var .array(items) = ps, !items.isEmpty {
                                if r.chance(50) { items.append(items[r.below(items.count)]) } else { items.removeLast() }
                                ps = .array(items)
                            }
                        }
                    default:
                        // A planes chunk made raw or the other way round, sizes kept.
                        if c["codec"]?.stringValue == "planes" {
                            c.set("codec", .string("raw"))
                        } else {
                            let l = c["length"] ?? .int(0)
                            c.set("codec", .string("planes"))
                            c.set("width", .int(1))
                            c.set("planes", .array([.object([("codec", .string(r.pick(["raw", "rans32", "zstd"]))), ("length", l)])]))
                        }
                    }
                }
            }
        }
        self.r = r
    }

    /// An element of some array repeated: a tensor, a section, a blob, a chunk, a plane, a
    /// dimension.
    mutating func duplicateEntry() {
        var arrays: [[Int]] = []
        image.manifest.containerPaths(arrays: true, into: &arrays)
        guard !arrays.isEmpty else { return }
        var r = self.r
        image.manifest.modify(path: r.pick(arrays)[...]) { v in
            if case var .array(items) = v {
                let i = r.below(items.count)
                items.insert(items[i], at: r.below(items.count + 1))
                v = .array(items)
            }
        }
        self.r = r
    }

    /// A member repeated under the same key (the parser must refuse duplicate keys).
    mutating func duplicateKey() {
        var objects: [[Int]] = []
        image.manifest.containerPaths(arrays: false, into: &objects)
        guard !objects.isEmpty else { return }
        var r = self.r
        image.manifest.modify(path: r.pick(objects)[...]) { v in
            if case var .object(members) = v {
                let m = members[r.below(members.count)]
                var changed = m.1
                if case let .int(i) = changed { changed = .int(r.boundary(near: i)) }
                members.insert((m.0, changed), at: r.below(members.count + 1))
                v = .object(members)
            }
        }
        self.r = r
    }

    /// A value replaced by one of another JSON type.
    mutating func retype() {
        var paths: [[Int]] = []
        image.manifest.allPaths(into: &paths)
        guard paths.count > 1 else { return }
        let path = r.pick(Array(paths.dropFirst()))
        let replacement: JSONValue = r.pick([.null, .bool(true), .int(0), .int(-1), .double(1.5), .string(""), .string("F32"),
                                             .array([]), .array([.int(1)]), .object([])])
        image.manifest.modify(path: path[...]) { $0 = replacement }
    }

    /// Metadata entries with the keys and values a safetensors header cannot carry back.
    mutating func metadata() {
        let key = r.pick(["__metadata__", "a\u{0}b", "format", "", LatteImage.loneSurrogateMarker, "\u{1B}[2J"])
        let value: JSONValue = r.chance(80) ? .string(r.pick(["pt", "x\u{0}y", "", String(repeating: "m", count: 5000)])) : .int(1)
        image.manifest.modify("metadata") { $0.set(key, value) }
        if image.manifest["metadata"] == nil { image.manifest.set("metadata", .object([(key, value)])) }
    }

    /// Sections: bounds, kinds, group numbers; a tensor moved to another section.
    mutating func sections() {
        let n = image.manifest["sections"]?.itemCount ?? 0
        guard n > 0 else { return }
        let s = r.below(n)
        var r = self.r
        let dataEnd = image.front.count
        switch r.below(4) {
        case 0:
            image.manifest.modify("sections") { $0.modify(item: s) { $0.set("kind", .string(r.pick(["shared", "group", "extra", "blob", "other"]))) } }
        case 1:
            image.manifest.modify("sections") { $0.modify(item: s) { $0.set("group", .int(r.boundary(near: 1))) } }
        case 2:
            // The whole data region, so that chunks moved anywhere stay inside their section.
            image.manifest.modify("sections") { $0.modify(item: s) { $0.set("offset", .int(64)); $0.set("length", .int(Int64(dataEnd - 64))) } }
        default:
            if tensorCount > 0 { modifyTensor(r.below(tensorCount)) { $0.set("section", .int(Int64(s))) } }
        }
        self.r = r
    }
}

extension Range where Bound == Int {
    func randomElement(using r: inout FuzzRandom) -> Int? { isEmpty ? nil : lowerBound + r.below(count) }
}
