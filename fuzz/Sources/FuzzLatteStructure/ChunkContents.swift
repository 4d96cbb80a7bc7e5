import FuzzSupport
import LatteCore
import LatteFormat

/// The decoded bytes of every chunk of a `.latte` input, keyed by where the chunk is stored,
/// so that a mutated manifest can be re-signed: a tensor whose chunks were repeated,
/// reordered, aliased or borrowed from another tensor gets the XXH64 of what it now decodes
/// to, and the reader gets past the checksum to whatever comes after it (export, the
/// read-back check). Built from the input *before* mutation, which libFuzzer has already run
/// without a crash, each chunk decoded on its own so that no batch is ever in flight here.
struct ChunkContents {
    private var bytes: [String: [UInt8]] = [:]

    static func key(_ chunk: JSONValue) -> String? {
        guard let o = chunk["offset"]?.intValue, let l = chunk["length"]?.intValue, let r = chunk["raw"]?.intValue,
              let c = chunk["codec"]?.stringValue else { return nil }
        return "\(o):\(l):\(r):\(c)"
    }

    static func key(_ c: ChunkEntry) -> String { "\(c.offset):\(c.length):\(c.raw):\(c.codec.rawValue)" }

    init() {}

    /// Decodes every chunk of `input` (a valid `.latte` file, else nothing is known), up to
    /// `maxChunks` distinct chunks and `limit` decoded bytes: the mutator runs outside
    /// libFuzzer's per-input timeout, so its own work must stay small.
    init(input: UnsafeRawBufferPointer, limit: Int = 64 << 20, maxChunks: Int = 512) {
        let path = writeInputFile(input, tag: "latte-mutator")
        // LatteTensor has no public initializer: a copy of a real entry carries each chunk.
        guard let file = try? LatteFile(path: path), let template = file.tensors.first else { return }
        file.threads = 1
        var total = 0
        let owners: [(section: Int, chunks: [ChunkEntry])] = file.tensors.map { ($0.section, $0.chunks) }
            + file.manifest.blobs.map { ($0.section, $0.chunks) }
        for (section, chunks) in owners {
            for c in chunks where bytes[Self.key(c)] == nil {
                total += c.raw
                guard total <= limit, bytes.count < maxChunks else { return }
                var single = template
                single.name = "chunk"
                single.dtype = .u8
                single.shape = [c.raw]
                single.nbytes = c.raw
                single.section = section
                single.checksum = 0
                single.chunks = [c]
                // The template may be a base reference: this one is stored, in the file.
                single.base = nil
                single.twinBase = nil
                let collected = Collected()
                // The checksum (0) never matches: `stream` throws after the sink has the bytes.
                _ = try? file.stream([single], sink: { _, b in collected.set(Array(b)) }) { _, _ in }
                if let b = collected.value, b.count == c.raw { bytes[Self.key(c)] = b }
            }
        }
    }

    /// Forgets chunks whose stored bytes overlap `range` (their payload was mutated).
    mutating func invalidate(_ range: Range<Int>) {
        bytes = bytes.filter { k, _ in
            let p = k.split(separator: ":")
            guard p.count == 4, let o = Int(p[0]), let l = Int(p[1]) else { return false }
            return o + l <= range.lowerBound || o >= range.upperBound
        }
    }

    /// What `chunk` decodes to: known from the input, or for a raw chunk its stored bytes.
    func decoded(_ chunk: JSONValue, front: [UInt8]) -> [UInt8]? {
        guard let k = Self.key(chunk) else { return nil }
        if let b = bytes[k] { return b }
        if chunk["codec"]?.stringValue == "raw", let o = chunk["offset"]?.intValue, let l = chunk["length"]?.intValue,
           o >= 0, l >= 0, o <= front.count, l <= front.count - o {
            return Array(front[o ..< o + l])
        }
        return nil
    }

    /// Sets the `xxh64` of a tensor or blob entry to the hash of what its chunks decode to,
    /// when every chunk is known; returns false otherwise.
    @discardableResult
    func resign(_ entry: inout JSONValue, front: [UInt8]) -> Bool {
        guard let chunks = entry["chunks"]?.arrayValue else { return false }
        var h = XXH64()
        for c in chunks {
            guard let b = decoded(c, front: front) else { return false }
            h.update(b)
        }
        entry.set("xxh64", .string(hex16(h.finalize())))
        return true
    }
}

/// One chunk's bytes, handed over by a decoding thread.
private final class Collected: @unchecked Sendable {
    var value: [UInt8]?
    func set(_ b: [UInt8]) { value = b }
}
