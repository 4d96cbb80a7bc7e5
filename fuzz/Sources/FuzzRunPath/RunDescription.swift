import FuzzSupport
import LatteCore

/// One `latte run` on the bundled tiny model, described by the numbers a hostile config,
/// inputs file or command line controls: edits of the config's integer fields (latent
/// size, channels, patch size, …), steps, guidance scale, context and unconditional
/// context lengths, whether to sample and how many single velocity evaluations to run.
/// Binary form: "RD1", then varints (zigzag for signed values). Any suffix of missing
/// fields takes its default, so libFuzzer's byte mutations also decode.
struct RunDescription: Equatable {
    /// Config fields an edit can set, by index (`latent_size.0` is the first side).
    static let fields = ["hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                         "vocab_size", "num_timestep_groups", "latent_channels", "patch_size", "latent_size.0", "latent_size.1",
                         "time_embed_frequency_dim"]

    var edits: [(field: Int, value: Int64)] = []
    var steps: Int64 = 2
    /// The guidance scale × 1000.
    var cfgMilli: Int64 = 1000
    var contextLength: Int64 = 8
    /// 0: no `uncond_ids`.
    var uncondLength: Int64 = 0
    var sample = true
    var velocities: Int64 = 0
    var tokenSeed: UInt8 = 0

    static func == (a: RunDescription, b: RunDescription) -> Bool { a.encoded == b.encoded }

    init() {}

    init(decoding bytes: UnsafeRawBufferPointer) {
        var r = ByteReader(bytes)
        guard r.take(3) == Array("RD1".utf8) else { return }
        let n = min(r.varint() ?? 0, 16)
        for _ in 0 ..< n {
            guard let f = r.varint(), let v = r.signed() else { return }
            edits.append((f % Self.fields.count, v))
        }
        steps = r.signed() ?? steps
        cfgMilli = r.signed() ?? cfgMilli
        contextLength = r.signed() ?? contextLength
        uncondLength = r.signed() ?? uncondLength
        sample = (r.byte() ?? 1) & 1 == 1
        velocities = r.signed() ?? velocities
        tokenSeed = r.byte() ?? 0
    }

    var encoded: [UInt8] {
        var w = ByteWriter()
        w.bytes(Array("RD1".utf8))
        w.varint(edits.count)
        for e in edits { w.varint(e.field); w.signed(e.value) }
        w.signed(steps); w.signed(cfgMilli); w.signed(contextLength); w.signed(uncondLength)
        w.byte(sample ? 1 : 0)
        w.signed(velocities)
        w.byte(tokenSeed)
        return w.out
    }

    /// The config with the edits applied.
    func config(from base: JSONValue) -> JSONValue {
        guard case var .object(members) = base else { return base }
        for e in edits {
            let name = Self.fields[e.field]
            if name.hasPrefix("latent_size.") {
                let k = name.hasSuffix("0") ? 0 : 1
                if let i = members.firstIndex(where: { $0.0 == "latent_size" }), case var .array(sides) = members[i].1, sides.count == 2 {
                    sides[k] = .int(e.value)
                    members[i].1 = .array(sides)
                }
            } else if let i = members.firstIndex(where: { $0.0 == name }) {
                members[i].1 = .int(e.value)
            }
        }
        return .object(members)
    }

    /// 1–2 numbers set to boundaries or nudged.
    mutating func mutate(_ r: inout FuzzRandom) {
        for _ in 0 ..< r.within(1 ... 2) {
            switch r.below(8) {
            case 0, 1:
                let f = r.below(Self.fields.count)
                let base: Int64 = [9, 10].contains(f) ? 8 : 4
                if edits.count < 16 { edits.append((f, r.chance(50) ? r.boundary(near: base) : r.pick([1, 2, 16, 64, 256, 1024, 4096, 1 << 20]))) }
            case 2: steps = r.chance(50) ? r.boundary(near: steps) : r.pick([1, 2, 3, 40, 1000, 100_000, 1_000_000_000])
            case 3: cfgMilli = r.pick([1000, 0, 1500, 7500, -1000, Int64(Int32.max)])
            case 4: contextLength = r.chance(50) ? r.boundary(near: contextLength) : r.pick([0, 1, 512, 4096, 60_000, 1 << 20])
            case 5: uncondLength = r.pick([0, 1, 8, 4096, 60_000])
            case 6: sample.toggle(); velocities = r.pick([0, 1, 2, 64, 100_000])
            default: if !edits.isEmpty { edits.remove(at: r.below(edits.count)) } else { tokenSeed = UInt8(truncatingIfNeeded: r.next()) }
            }
        }
    }
}
