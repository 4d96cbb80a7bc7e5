/// Serializes a `TorchDescription` as `torch.save` does: a zip of stored records
/// (`<folder>/data.pkl`, `<folder>/data/<key>`, `<folder>/byteorder`, `<folder>/version`)
/// whose pickle (protocol 2) rebuilds each tensor with `torch._utils._rebuild_tensor_v2` over
/// a persistent-id storage. Each node is written once and memoized (BINPUT); further uses
/// fetch it back (BINGET), so shared containers stay shared in the file.
enum TorchFileWriter {
    /// Files beyond this are not written (the description is left as it is).
    static let maxFileBytes = 64 << 20

    static func file(_ d: TorchDescription) -> [UInt8]? {
        var p = PickleWriter(d)
        guard let pickle = p.pickle() else { return nil }
        var records: [(String, [UInt8])] = [("data.pkl", pickle)]
        if d.byteOrder != 0 { records.append(("byteorder", Array((d.byteOrder == 2 ? "big" : "little").utf8))) }
        for (i, s) in d.storages.enumerated() { records.append(("data/\(i)", [UInt8](repeating: s.fill, count: s.recordBytes))) }
        records.append(("version", Array("3\n".utf8)))
        return ZipWriter.stored(records.map { (d.folder + "/" + $0.0, $0.1) })
    }
}

struct PickleWriter {
    let d: TorchDescription
    var out: [UInt8] = []
    var memo: [Int: Int] = [:]
    var nextMemo = 0

    init(_ d: TorchDescription) { self.d = d }

    mutating func pickle() -> [UInt8]? {
        guard !d.nodes.isEmpty else { return nil }
        out = [0x80, 2] // PROTO 2
        guard emit(d.nodes.count - 1) else { return nil }
        out.append(0x2E) // STOP
        return out
    }

    mutating func memoize(_ node: Int) {
        if nextMemo < 256 { out += [0x71, UInt8(nextMemo)] } else { out.append(0x72); u32(UInt32(truncatingIfNeeded: nextMemo)) }
        memo[node] = nextMemo
        nextMemo += 1
    }

    mutating func u32(_ v: UInt32) { for k in 0 ..< 4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }

    mutating func int(_ v: Int64) {
        if (0 ... 255).contains(v) {
            out += [0x4B, UInt8(v)] // BININT1
        } else if let i = Int32(exactly: v) {
            out.append(0x4A); u32(UInt32(bitPattern: i)) // BININT
        } else {
            out += [0x8A, 8] // LONG1, 8 bytes two's complement
            for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * Int64(k)))) }
        }
    }

    mutating func string(_ s: String) {
        let b = Array(s.utf8)
        if b.count < 256 { out += [0x8C, UInt8(b.count)] } else { out.append(0x58); u32(UInt32(b.count)) }
        out += b
    }

    mutating func global(_ module: String, _ name: String) { out.append(0x63); out += Array("\(module)\n\(name)\n".utf8) }

    mutating func ints(_ v: [Int64]) {
        out.append(0x28) // MARK
        for x in v { int(x) }
        out.append(0x74) // TUPLE
    }

    /// Writes node `i` (or fetches it from the memo); false when the file would be too large.
    mutating func emit(_ i: Int) -> Bool {
        if let m = memo[i] {
            if m < 256 { out += [0x68, UInt8(m)] } else { out.append(0x6A); u32(UInt32(m)) }
            return true
        }
        guard out.count < TorchFileWriter.maxFileBytes else { return false }
        let n = d.nodes[i]
        switch n.kind {
        case .dict, .orderedDict:
            if n.kind == .dict {
                out.append(0x7D) // EMPTY_DICT
            } else {
                global("collections", "OrderedDict"); out += [0x29, 0x52] // EMPTY_TUPLE REDUCE
            }
            memoize(i)
            if !n.children.isEmpty {
                out.append(0x28)
                for (k, c) in zip(n.keys, n.children) {
                    string(k)
                    guard emit(c) else { return false }
                }
                out.append(0x75) // SETITEMS
            }
        case .list:
            out.append(0x5D) // EMPTY_LIST
            memoize(i)
            if !n.children.isEmpty {
                out.append(0x28)
                for c in n.children { guard emit(c) else { return false } }
                out.append(0x65) // APPENDS
            }
        case .tuple:
            out.append(0x28)
            for c in n.children { guard emit(c) else { return false } }
            out.append(0x74)
            memoize(i)
        case .pair:
            guard let c = n.children.first, emit(c) else { return false }
            out += [0x32, 0x86] // DUP TUPLE2
            memoize(i)
        case .tensor:
            guard let v = n.view, d.storages.indices.contains(v.storage) else { out.append(0x4E); return true }
            let s = d.storages[v.storage]
            if v.parameter { global("torch._utils", "_rebuild_parameter"); out.append(0x28) }
            global("torch._utils", "_rebuild_tensor_v2")
            out.append(0x28)
            // Persistent id ('storage', torch.<Class>, key, 'cpu', numel).
            out.append(0x28)
            string("storage")
            global("torch", TorchDescription.storageClasses[s.dtype].name)
            string(String(v.storage))
            string("cpu")
            int(s.numel)
            out += [0x74, 0x51] // TUPLE BINPERSID
            int(v.offset)
            ints(v.shape)
            ints(v.stride)
            out.append(0x89) // False
            global("collections", "OrderedDict"); out += [0x29, 0x52]
            out += [0x74, 0x52] // TUPLE REDUCE
            if v.parameter {
                out.append(0x89)
                global("collections", "OrderedDict"); out += [0x29, 0x52]
                out += [0x74, 0x52]
            }
            memoize(i)
        case .int: int(n.number)
        case .string: string(n.text)
        case .none: out.append(0x4E)
        case .flood:
            let count = Int(n.number)
            guard out.count + 2 * count < TorchFileWriter.maxFileBytes else { return false }
            out.reserveCapacity(out.count + 2 * count + 1)
            for _ in 0 ..< count { out += [0x29, 0x30] } // EMPTY_TUPLE POP
            out.append(0x4E)
        }
        return true
    }
}

/// A zip of stored (uncompressed) records with a central directory, as `zipfile` reads it.
enum ZipWriter {
    static let crcTable: [UInt32] = (0 ..< 256).map { n in
        var c = UInt32(n)
        for _ in 0 ..< 8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ b: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for x in b { c = crcTable[Int((c ^ UInt32(x)) & 0xFF)] ^ (c >> 8) }
        return c ^ 0xFFFF_FFFF
    }

    static func stored(_ records: [(String, [UInt8])]) -> [UInt8] {
        var out: [UInt8] = []
        var central: [UInt8] = []
        func u16(_ v: Int, _ to: inout [UInt8]) { to += [UInt8(truncatingIfNeeded: v), UInt8(truncatingIfNeeded: v >> 8)] }
        func u32(_ v: UInt32, _ to: inout [UInt8]) { for k in 0 ..< 4 { to.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
        for (name, data) in records {
            let n = Array(name.utf8)
            let crc = crc32(data)
            let offset = UInt32(truncatingIfNeeded: out.count)
            u32(0x0403_4B50, &out); u16(20, &out); u16(0, &out); u16(0, &out); u16(0, &out); u16(0x21, &out)
            u32(crc, &out); u32(UInt32(data.count), &out); u32(UInt32(data.count), &out); u16(n.count, &out); u16(0, &out)
            out += n
            out += data
            u32(0x0201_4B50, &central); u16(20, &central); u16(20, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0x21, &central); u32(crc, &central); u32(UInt32(data.count), &central)
            u32(UInt32(data.count), &central); u16(n.count, &central); u16(0, &central); u16(0, &central)
            u16(0, &central); u16(0, &central); u32(0, &central); u32(offset, &central)
            central += n
        }
        let cdOffset = UInt32(truncatingIfNeeded: out.count)
        out += central
        u32(0x0605_4B50, &out); u16(0, &out); u16(0, &out); u16(records.count, &out); u16(records.count, &out)
        u32(UInt32(central.count), &out); u32(cdOffset, &out); u16(0, &out)
        return out
    }
}
