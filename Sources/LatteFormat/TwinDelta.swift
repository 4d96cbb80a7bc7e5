import LatteCore

/// Twin deltas (docs/FORMAT.md, "Twin deltas"): a replica tensor `gen.layers.{l}.X` starts as
/// a copy of its twin `model.layers.{l}.X` and drifts in training, so the XOR of their raw
/// bytes has mostly zero high bytes (sign, exponent, top mantissa bits), which the plane
/// codecs code in a fraction of the plain size.
enum TwinDelta {
    /// The canonical name of `name`'s twin, for a replica layer tensor.
    static func twinName(of name: String) -> String? {
        let prefix = "gen.layers."
        guard name.hasPrefix(prefix) else { return nil }
        return "model.layers." + name.dropFirst(prefix.count)
    }

    /// `a` XOR `b` into `out` (all the same length), eight bytes at a time.
    static func xor(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, into out: UnsafeMutableRawBufferPointer) {
        let n = out.count
        let words = n / 8
        for i in 0 ..< words {
            let v = a.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self) ^ b.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)
            out.storeBytes(of: v, toByteOffset: 8 * i, as: UInt64.self)
        }
        for i in 8 * words ..< n { out[i] = a[i] ^ b[i] }
    }

    /// Turns a decoded delta chunk `out` into its bytes: XORs in the twin's chunk `w` (stored
    /// at `stored`), read in place when raw, else decoded into `twin` (with `scratch`, the
    /// chunk decoder's). A damaged twin chunk surfaces here, as the replica's chunk; a wrong
    /// twin byte, as the replica's checksum mismatch.
    static func apply(_ w: ChunkEntry, stored: UnsafeRawBufferPointer, to out: UnsafeMutableRawBufferPointer,
                      twin: UnsafeMutableRawBufferPointer?, scratch: UnsafeMutableRawBufferPointer) throws(ChunkDecodeFailure) {
        guard w.raw == out.count, twin != nil || w.codec == .raw else {
            throw ChunkDecodeFailure("the twin's chunk has \(w.raw) raw bytes for \(out.count)")
        }
        if w.codec == .raw {
            xor(UnsafeRawBufferPointer(out), stored, into: out)
            return
        }
        let decoded = UnsafeMutableRawBufferPointer(rebasing: twin![0 ..< w.raw])
        do { try ChunkCoder.decode(w, stored: stored, into: decoded, scratch: scratch) } catch {
            throw ChunkDecodeFailure("the twin's chunk: \(error)")
        }
        xor(UnsafeRawBufferPointer(out), UnsafeRawBufferPointer(decoded), into: out)
    }

    /// Turns delta chunk `k` of `t`, decoded into `out`, into its bytes, whichever reader
    /// decodes it. The twin's chunk comes from `decoded` when the reader has just decoded it
    /// beside (a paired read), else from the base (`base`: the twin's bytes there), else it
    /// is decoded from its stored bytes in `file` into `twin()` (asked for only then: a
    /// reader may allocate that buffer on first use) with `scratch`.
    static func resolve(_ t: LatteTensor, chunk k: Int, _ out: UnsafeMutableRawBufferPointer, decoded: UnsafeRawBufferPointer?,
                        base: TensorBytes?, file: UnsafeRawBufferPointer, twin: () -> UnsafeMutableRawBufferPointer?,
                        scratch: UnsafeMutableRawBufferPointer) throws(ChunkDecodeFailure) {
        if let decoded {
            guard decoded.count == out.count else { throw ChunkDecodeFailure("the twin's chunk has \(decoded.count) raw bytes for \(out.count)") }
            xor(UnsafeRawBufferPointer(out), decoded, into: out)
        } else if let base {
            // Every chunk but the last holds chunk_size bytes: chunk k starts at k × chunk 0's size.
            try applyBase(base, at: k * t.chunks[0].raw, to: out)
        } else {
            // A validated manifest resolves the twin's chunks; anything else is refused here.
            guard k < t.twinChunks.count else { throw ChunkDecodeFailure("a twin delta without a twin chunk") }
            let w = t.twinChunks[k]
            try apply(w, stored: UnsafeRawBufferPointer(rebasing: file[w.offset ..< w.offset + w.length]), to: out, twin: twin(), scratch: scratch)
        }
    }

    /// Turns a decoded delta chunk `out` into its bytes when the twin is stored in the base:
    /// XORs in the base tensor's bytes at `offset` (read in place, as a raw twin chunk is).
    static func applyBase(_ twin: TensorBytes, at offset: Int, to out: UnsafeMutableRawBufferPointer) throws(ChunkDecodeFailure) {
        let ok = twin.withUnsafeBytes { b -> Bool in
            guard offset >= 0, offset <= b.count, out.count <= b.count - offset else { return false }
            xor(UnsafeRawBufferPointer(out), UnsafeRawBufferPointer(rebasing: b[offset ..< offset + out.count]), into: out)
            return true
        }
        guard ok else { throw ChunkDecodeFailure("the twin in the base has no bytes \(offset) ..< \(offset + out.count)") }
    }

    /// Encodes a chunk both plainly and as its XOR with the twin's chunk, and keeps the
    /// smaller (the delta only when strictly smaller: never larger than plain coding, and a
    /// delta is never a raw chunk, whose bytes a reader would use from the map).
    static func encode(_ raw: UnsafeRawBufferPointer, twin: UnsafeRawBufferPointer, dtype: DType, options: CodecOptions) -> EncodedChunk {
        let plain = ChunkCoder.encode(raw, dtype: dtype, options: options)
        let delta = [UInt8](unsafeUninitializedCapacity: raw.count) { buf, count in
            xor(raw, twin, into: UnsafeMutableRawBufferPointer(buf))
            count = raw.count
        }
        var coded = delta.withUnsafeBytes { ChunkCoder.encode($0, dtype: dtype, options: options) }
        guard coded.entry.codec != .raw, coded.entry.length < plain.entry.length else { return plain }
        coded.entry.xorTwin = true
        return coded
    }
}

/// The manifest's twin rules, checked once every tensor is parsed: a twin exists, has the
/// same dtype and shape (so the same chunks), has no twin itself, and is the twin of no other
/// tensor. Decoding a delta chunk then decodes one chunk of the twin: at most twice the work
/// of the file's own chunks, which the ratio bound already limits.
enum TwinRules {
    static func resolve(_ tensors: [LatteTensor]) throws(LatteFileError) -> [LatteTensor] {
        guard tensors.contains(where: { $0.twin != nil }) else { return tensors }
        var index = [String: Int](minimumCapacity: tensors.count)
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        var out = tensors
        var taken = Set<Int>()
        for (i, t) in tensors.enumerated() {
            guard let name = t.twin else { continue }
            func bad(_ why: String) -> LatteFileError { .tensorEntryInvalid(tensor: t.name, reason: why) }
            guard let k = index[name], k != i else { throw bad("its twin '\(name)' is not a tensor of the file") }
            let w = tensors[k]
            guard w.twin == nil else { throw bad("its twin '\(name)' has a twin itself") }
            guard w.dtype == t.dtype, w.shape == t.shape else {
                throw bad("its twin '\(name)' is \(w.dtype.name) \(w.shape), not \(t.dtype.name) \(t.shape)")
            }
            guard taken.insert(k).inserted else { throw bad("its twin '\(name)' is the twin of another tensor too") }
            // Same dtype, shape and chunk size: the same number of chunks of the same sizes.
            out[i].twinChunks = w.chunks
            out[i].twinSection = w.section
            // A twin in the base has no chunks: its chunk k is the base tensor's bytes there.
            out[i].twinBase = w.base
        }
        return out
    }
}
