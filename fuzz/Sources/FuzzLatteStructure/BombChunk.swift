import FuzzSupport
import LatteCore
import LatteFormat

/// A decompression bomb a byte-level fuzzer cannot write: a zstd frame of RLE blocks
/// (4 bytes per 128 KiB of output, so 64 MiB from 2 KiB) appended to the data region, and a
/// tensor made of k chunks that all point at it. Valid by every per-chunk rule of the format;
/// only a bound on decoded bytes per stored byte, or a refusal of aliased chunks, stops it.
enum BombChunk {
    /// RFC 8878 frame: magic, a single-segment header with a 4-byte content size, then RLE
    /// blocks of at most 128 KiB, the last one flagged.
    static func rleFrame(size: Int, byte: UInt8) -> [UInt8] {
        var out: [UInt8] = [0x28, 0xB5, 0x2F, 0xFD, 0xA0]
        for k in 0 ..< 4 { out.append(UInt8(truncatingIfNeeded: size >> (8 * k))) }
        var left = size
        repeat {
            let n = min(left, 128 << 10)
            left -= n
            let header = UInt32(n) << 3 | 1 << 1 | (left == 0 ? 1 : 0)
            out += [UInt8(truncatingIfNeeded: header), UInt8(truncatingIfNeeded: header >> 8), UInt8(truncatingIfNeeded: header >> 16), byte]
        } while left > 0
        return out
    }

    static func add(_ m: inout ManifestMutator) {
        guard m.tensorCount > 0, let sections = m.image.manifest["sections"]?.arrayValue, !sections.isEmpty else { return }
        let chunkSize = m.image.manifest["chunk_size"]?.intValue ?? LatteLayout.defaultChunkSize
        let raw = m.r.pick([max(1, min(chunkSize, LatteLayout.maxChunkSize)), 1 << 20, LatteLayout.maxChunkSize])
        if raw > chunkSize { m.image.manifest.set("chunk_size", .int(Int64(raw))) }
        let count = m.r.pick([1, 2, 9, 1000, 4096])
        let byte: UInt8 = m.r.chance(70) ? 0 : UInt8(truncatingIfNeeded: m.r.next())
        let frame = rleFrame(size: raw, byte: byte)
        let at = m.image.front.count
        m.image.front += frame
        let t = m.r.below(m.tensorCount)
        let s = m.r.below(sections.count)
        // The section grows to cover the new frame.
        m.image.manifest.modify("sections") { sv in
            sv.modify(item: s) { sec in
                let offset = sec["offset"]?.intValue ?? LatteLayout.headerSize
                sec.set("length", .int(Int64(at + frame.count &- offset)))
            }
        }
        let chunk: JSONValue = .object([("offset", .int(Int64(at))), ("length", .int(Int64(frame.count))),
                                        ("raw", .int(Int64(raw))), ("codec", .string("zstd"))])
        let total = raw * count
        var entry = m.tensor(t) ?? .object([])
        entry.set("dtype", .string("U8"))
        entry.set("shape", .array([.int(Int64(total))]))
        entry.set("nbytes", .int(Int64(total)))
        entry.set("section", .int(Int64(s)))
        entry.set("chunks", .array([JSONValue](repeating: chunk, count: count)))
        // Signed when hashing it is cheap; a bomb does its work before the checksum is known.
        if total <= 64 << 20 {
            var h = XXH64()
            let piece = [UInt8](repeating: byte, count: raw)
            for _ in 0 ..< count { h.update(piece) }
            entry.set("xxh64", .string(hex16(h.finalize())))
        }
        m.modifyTensor(t) { $0 = entry }
    }
}
