import FuzzSupport
import LatteCore

/// Damage to the stored bytes of one chunk behind an intact, re-signed manifest, so the
/// decoders run on bad data (a byte-level fuzzer mostly breaks the manifest checksum and
/// stops there): libFuzzer's own mutations of the chunk or of one of its planes, or targeted
/// edits of a `rans32` plane's header (bitmap, frequencies, coder states) and of a zstd frame
/// header. Raw chunks are re-signed so their damage reaches the mapped-read and export paths.
struct PayloadMutator {
    var image: LatteImage
    var contents: ChunkContents
    var r: FuzzRandom
    var resign = true

    mutating func mutate() {
        var m = ManifestMutator(image: image, contents: contents, r: r)
        let chunks = m.allChunks
        guard !chunks.isEmpty else { return }
        let (t, k) = r.pick(chunks)
        guard let c = m.chunk((t, k)), let offset = c["offset"]?.intValue, let length = c["length"]?.intValue,
              offset >= 0, length > 0, offset <= image.front.count, length <= image.front.count - offset else { return }
        // The piece to damage: the whole chunk, or one plane of it.
        var start = offset, size = length, plane: Int? = nil
        var planeCodec: String? = c["codec"]?.stringValue == "zstd" ? "zstd" : nil
        if let planes = c["planes"]?.arrayValue, !planes.isEmpty, r.chance(70) {
            let p = r.below(planes.count)
            var at = offset
            for q in 0 ..< p { at = at &+ (planes[q]["length"]?.intValue ?? 0) }
            let l = planes[p]["length"]?.intValue ?? 0
            guard at >= offset, l > 0, l <= offset + length - at else { return }
            start = at; size = l; plane = p
            planeCodec = planes[p]["codec"]?.stringValue
        }
        var piece = Array(image.front[start ..< start + size])
        switch (planeCodec, r.below(3)) {
        case ("rans32", 0): ransHeader(&piece)
        case ("zstd", 0): zstdHeader(&piece)
        default:
            // Same size mostly (so offsets stay right), sometimes shorter (a truncated stream).
            let mutated = libFuzzerMutated(piece, maxSize: size)
            piece = mutated.count == size || r.chance(30) ? mutated : piece
        }
        guard !piece.isEmpty else { return }
        let shrink = size - piece.count
        image.front.replaceSubrange(start ..< start + size, with: piece + [UInt8](repeating: 0, count: shrink))
        contents.invalidate(start ..< start + size)
        if shrink > 0 {
            m.image = image
            m.modifyTensor(t) { tv in
                tv.modify("chunks") { cs in
                    cs.modify(item: k) { c in
                        c.set("length", .int(Int64(length - shrink)))
                        if let p = plane { c.modify("planes") { $0.modify(item: p) { $0.set("length", .int(Int64(size - shrink))) } } }
                    }
                }
            }
            image = m.image
        }
        if resign {
            let contents = self.contents, front = image.front
            image.manifest.modify("tensors") { $0.modify(item: t) { contents.resign(&$0, front: front) } }
        }
    }

    /// FORMAT.md §5: 32-byte symbol bitmap, UInt16 frequencies, 32 UInt32 states, words.
    mutating func ransHeader(_ p: inout [UInt8]) {
        func put16(_ at: Int, _ v: UInt16) { if at + 2 <= p.count { p[at] = UInt8(v & 0xFF); p[at + 1] = UInt8(v >> 8) } }
        func put32(_ at: Int, _ v: UInt32) { for k in 0 ..< 4 where at + k < p.count { p[at + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) } }
        let present = p.prefix(32).reduce(0) { $0 + $1.nonzeroBitCount }
        switch r.below(4) {
        case 0 where p.count >= 32: p[r.below(32)] ^= UInt8(1) << UInt8(r.below(8))
        case 1: put16(32 + 2 * r.below(max(1, present)), r.pick([0, 1, 2, 4095, 4096, 4097, 0xFFFF]))
        case 2: put32(32 + 2 * present + 4 * r.below(32), r.pick([0, 1, (1 << 15) - 1, 1 << 15, (1 << 31) - 1, 1 << 31, UInt32.max]))
        default:
            let words = 32 + 2 * present + 128
            if words < p.count { p[words + r.below(p.count - words)] = UInt8(truncatingIfNeeded: r.next()) }
        }
    }

    /// RFC 8878: the frame header descriptor and the content size after it.
    mutating func zstdHeader(_ p: inout [UInt8]) {
        guard p.count > 6 else { return }
        switch r.below(3) {
        case 0: p[4] = UInt8(truncatingIfNeeded: r.next())
        case 1: p[5 + r.below(min(8, p.count - 5))] = UInt8(truncatingIfNeeded: r.next())
        default: p[r.below(p.count)] ^= 0xFF
        }
    }
}
