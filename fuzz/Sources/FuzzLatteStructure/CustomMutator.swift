import FuzzSupport
import LatteCore

/// libFuzzer's hook (it looks the symbol up at start): every new input comes from here.
/// An input that is a `.latte` file (trailer and JSON manifest) gets 1–3 structural
/// mutations of its manifest (65 %) or damage to one chunk's payload (35 %), then a freshly
/// signed trailer; 10 % keep stale tensor checksums. Anything else (the empty first input, a
/// byte-mutated file) is replaced by a fresh valid file from `LatteSeeds`, except that 5 % of
/// all calls are plain byte-level mutations, so the header and trailer checks keep some
/// coverage.
@_cdecl("LLVMFuzzerCustomMutator")
public func latteCustomMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var r = FuzzRandom(seed: UInt64(seed))
    if r.chance(5) { return LLVMFuzzerMutate(data, size, maxSize) }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    guard let image = LatteImage(input) else {
        for _ in 0 ..< 4 {
            if let fresh = LatteSeeds.make(&r), fresh.count <= maxSize { return handBack(fresh, to: data, size: size, maxSize: maxSize) }
        }
        return LLVMFuzzerMutate(data, size, maxSize)
    }
    let contents = ChunkContents(input: input)
    var result = image
    let resign = !r.chance(10)
    for _ in 0 ..< r.within(1 ... 3) {
        if r.chance(35) {
            var p = PayloadMutator(image: result, contents: contents, r: FuzzRandom(seed: r.next()), resign: resign)
            p.mutate()
            result = p.image
        } else {
            var m = ManifestMutator(image: result, contents: contents, r: FuzzRandom(seed: r.next()), resign: resign)
            m.mutate()
            result = m.image
        }
    }
    let bytes = result.bytes
    if bytes.count > maxSize { return LLVMFuzzerMutate(data, size, maxSize) }
    return handBack(bytes, to: data, size: size, maxSize: maxSize)
}

/// Two files crossed: the first one's data region with the second one's chunks appended,
/// and tensors of both in one manifest (offsets of the second shifted), so chunks of one
/// codec mix meet the tensors and sections of another.
@_cdecl("LLVMFuzzerCustomCrossOver")
public func latteCustomCrossOver(_ data1: UnsafePointer<UInt8>, _ size1: Int, _ data2: UnsafePointer<UInt8>, _ size2: Int,
                                 _ out: UnsafeMutablePointer<UInt8>, _ maxOutSize: Int, _ seed: UInt32) -> Int {
    guard var a = LatteImage(UnsafeRawBufferPointer(start: data1, count: size1)),
          let b = LatteImage(UnsafeRawBufferPointer(start: data2, count: size2)) else { return 0 }
    var r = FuzzRandom(seed: UInt64(seed))
    // Raw chunks must stay 64-byte aligned: pad the first data region to a multiple of 64.
    while a.front.count % 64 != 0 { a.front.append(0) }
    let shift = Int64(a.front.count - 64)
    a.front += b.front[64...]
    func shifted(_ v: JSONValue) -> JSONValue {
        var v = v
        if case let .int(o) = v["offset"] ?? .null { v.set("offset", .int(o &+ shift)) }
        return v
    }
    let sectionBase = Int64(a.manifest["sections"]?.itemCount ?? 0)
    let newSections = (b.manifest["sections"]?.arrayValue ?? []).map(shifted)
    let newTensors: [JSONValue] = (b.manifest["tensors"]?.arrayValue ?? []).enumerated().compactMap { i, t in
        guard r.chance(60) else { return nil }
        var t = t
        if let n = t["name"]?.stringValue { t.set("name", .string("x\(i).\(n)")) }
        if case let .int(s) = t["section"] ?? .null { t.set("section", .int(s &+ sectionBase)) }
        t.modify("chunks") { cs in if case let .array(items) = cs { cs = .array(items.map(shifted)) } }
        return t
    }
    // Chunks of both must fit the chunk size.
    let chunkSize = max(a.manifest["chunk_size"]?.intValue ?? 0, b.manifest["chunk_size"]?.intValue ?? 0)
    a.manifest.set("chunk_size", .int(Int64(chunkSize)))
    a.manifest.modify("sections") { if case let .array(s) = $0 { $0 = .array(s + newSections) } }
    a.manifest.modify("tensors") { if case let .array(t) = $0 { $0 = .array(t + newTensors) } }
    let bytes = a.bytes
    guard bytes.count <= maxOutSize else { return 0 }
    bytes.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    return bytes.count
}
