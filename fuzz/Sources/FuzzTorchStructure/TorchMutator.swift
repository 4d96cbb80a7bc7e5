import FuzzSupport

/// Makes and mutates `TorchDescription`s: state dicts of tensors over shared storages, then
/// the shapes of hostile files a byte-level fuzzer cannot assemble inside a zip and a
/// pickle: DAGs whose tree expansion is exponential (a chain of DUP+TUPLE2 pairs, containers
/// shared through the memo), expanded (stride-0) views of huge logical size, shapes and
/// strides at integer boundaries, storages that declare more elements than their records
/// hold, opcode floods, odd keys (NUL, dots, duplicates), ranks past 64.
enum TorchMutator {
    /// A plausible checkpoint: a dict (sometimes under `state_dict`, beside an epoch) of 1–8
    /// tensors, some of them views sharing one storage.
    static func fresh(_ r: inout FuzzRandom) -> TorchDescription {
        var d = TorchDescription()
        let count = r.within(1 ... 8)
        var keys: [String] = []
        var children: [Int] = []
        for i in 0 ..< count {
            let shared = i > 0 && r.chance(25)
            let dims = r.chance(50) ? [Int64(r.within(1 ... 16))] : [Int64(r.within(1 ... 8)), Int64(r.within(1 ... 8))]
            let elements = Int(dims.reduce(1, *))
            if !shared {
                let dtype = r.below(TorchDescription.storageClasses.count - 2)
                d.storages.append(.init(dtype: dtype, numel: Int64(elements), recordBytes: elements * TorchDescription.storageClasses[dtype].size,
                                        fill: UInt8(truncatingIfNeeded: r.next())))
            }
            let s = d.storages.count - 1
            let stride: [Int64] = dims.count == 2 ? [dims[1], 1] : [1]
            d.nodes.append(.init(kind: .tensor, view: .init(storage: s, offset: 0, shape: dims, stride: stride, parameter: r.chance(20))))
            keys.append("layers.\(i).weight")
            children.append(d.nodes.count - 1)
        }
        d.nodes.append(.init(kind: r.chance(30) ? .orderedDict : .dict, children: children, keys: keys))
        if r.chance(30) {
            d.nodes.append(.init(kind: .int, number: 3))
            d.nodes.append(.init(kind: .dict, children: [d.nodes.count - 2, d.nodes.count - 1], keys: ["state_dict", "epoch"]))
        }
        return d
    }

    static func mutate(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        switch r.below(16) {
        case 0, 1: shape(&d, &r)
        case 2, 3: stride(&d, &r)
        case 4: offset(&d, &r)
        case 5: storage(&d, &r)
        case 6, 7: dag(&d, &r)
        case 8: share(&d, &r)
        case 9: flood(&d, &r)
        case 10: keys(&d, &r)
        case 11: rank(&d, &r)
        case 12: rewire(&d, &r)
        case 13: kind(&d, &r)
        case 14: expandedView(&d, &r)
        default: layout(&d, &r)
        }
    }

    static func tensors(_ d: TorchDescription) -> [Int] { d.nodes.indices.filter { d.nodes[$0].view != nil } }

    static func modifyView(_ d: inout TorchDescription, _ r: inout FuzzRandom, _ change: (inout TorchDescription.View, inout FuzzRandom) -> Void) {
        let ts = tensors(d)
        guard !ts.isEmpty else { return }
        let i = r.pick(ts)
        change(&d.nodes[i].view!, &r)
    }

    static let huge: [Int64] = [1 << 25, 1 << 28, 1 << 30, 1 << 31, 1 << 32, 1 << 40, 1 << 62, Int64.max]

    static func shape(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        modifyView(&d, &r) { v, r in
            if v.shape.isEmpty { v.shape = [1]; v.stride = [1] }
            let k = r.below(v.shape.count)
            v.shape[k] = r.chance(50) ? r.pick(huge) : r.boundary(near: v.shape[k])
        }
    }

    static func stride(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        modifyView(&d, &r) { v, r in
            guard !v.stride.isEmpty else { return }
            let k = r.below(v.stride.count)
            v.stride[k] = r.chance(60) ? 0 : r.boundary(near: v.stride[k])
        }
    }

    static func offset(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        modifyView(&d, &r) { v, r in v.offset = r.boundary(near: v.offset) }
    }

    static func storage(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        guard !d.storages.isEmpty else { return }
        let s = r.below(d.storages.count)
        switch r.below(3) {
        case 0: d.storages[s].numel = r.boundary(near: d.storages[s].numel)
        case 1: d.storages[s].recordBytes = min(TorchDescription.maxRecordBytes, max(0, Int(r.boundary(near: Int64(d.storages[s].recordBytes)) & 0xFFFFF)))
        default: d.storages[s].dtype = r.below(TorchDescription.storageClasses.count)
        }
    }

    /// Appends `node` and a new root: the old root dict with one more key for it, or a dict
    /// of the old root and it. (Nodes no root reaches are simply not written.)
    static func attach(_ d: inout TorchDescription, _ node: TorchDescription.Node, key: String) {
        guard d.nodes.count < TorchDescription.maxNodes - 1 else { return }
        let oldRoot = d.nodes.count - 1
        d.nodes.append(node)
        let added = d.nodes.count - 1
        if oldRoot >= 0, d.nodes[oldRoot].kind == .dict || d.nodes[oldRoot].kind == .orderedDict {
            var root = d.nodes[oldRoot]
            root.children.append(added)
            root.keys.append(key)
            d.nodes.append(root)
        } else {
            d.nodes.append(.init(kind: .dict, children: oldRoot >= 0 ? [oldRoot, added] : [added], keys: oldRoot >= 0 ? ["old", key] : [key]))
        }
    }

    /// A chain of `depth` levels over an existing node, each level holding the one below
    /// twice: by DUP+TUPLE2 (`pair`), or by a tuple, list or dict that names it twice
    /// (written once, then fetched from the memo). The tree has 2^depth leaves.
    static func dag(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        guard !d.nodes.isEmpty else { return }
        // Shallow (cheap) or lethal: a walk of 2^20 paths passes in seconds under
        // AddressSanitizer, and such an input would make every input derived from it slow.
        let depth = r.pick([2, 4, 10, 40, 64])
        var below = r.pick(tensors(d).isEmpty ? [0] : tensors(d))
        let style = r.below(4)
        for level in 0 ..< depth where d.nodes.count < TorchDescription.maxNodes - 2 {
            switch style {
            case 0: d.nodes.append(.init(kind: .pair, children: [below]))
            case 1: d.nodes.append(.init(kind: .tuple, children: [below, below]))
            case 2: d.nodes.append(.init(kind: .list, children: [below, below]))
            default: d.nodes.append(.init(kind: .dict, children: [below, below], keys: ["a\(level)", "b\(level)"]))
            }
            below = d.nodes.count - 1
        }
        let top = d.nodes.removeLast()
        attach(&d, top, key: "dag")
    }

    /// One container placed under several parents.
    static func share(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        let containers = d.nodes.indices.filter { [.dict, .orderedDict, .list, .tuple].contains(d.nodes[$0].kind) }
        guard let c = containers.isEmpty ? nil : r.pick(containers) else { return }
        let n = r.pick([2, 3, 16, 256])
        attach(&d, .init(kind: .list, children: [Int](repeating: c, count: n)), key: "shared")
    }

    /// One flood per description (a new one replaces the old), small or at the maximum. The
    /// maximum, 2^21 pairs (a 4 MiB pickle), is what a reader bounded by the pickle's bytes
    /// still reads well within 10 s under AddressSanitizer; 2^23 pairs (16 MiB, the
    /// rediscovery experiment's size) took 17 s there on the fixed reader, 6.4 s in a debug build.
    static func flood(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        for i in d.nodes.indices where d.nodes[i].kind == .flood { d.nodes[i].kind = .none }
        attach(&d, .init(kind: .flood, number: Int64(r.pick([1000, TorchDescription.maxFlood]))), key: "flood")
    }

    static func keys(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        let dicts = d.nodes.indices.filter { !d.nodes[$0].keys.isEmpty }
        guard let i = dicts.isEmpty ? nil : r.pick(dicts) else { return }
        let k = r.below(d.nodes[i].keys.count)
        let other = d.nodes[i].keys[r.below(d.nodes[i].keys.count)]
        d.nodes[i].keys[k] = r.pick([other, "", "a\u{0}b", "__metadata__", "x.", ".", "\u{1B}[31m", String(repeating: "k", count: 5000),
                                     other + "\u{0}", "\u{FEFF}" + other])
    }

    static func rank(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        modifyView(&d, &r) { v, r in
            let target = r.pick([0, 1, 63, 64, 65, 70])
            while v.shape.count < target { v.shape.append(1); v.stride.append(1) }
            while v.shape.count > target { v.shape.removeLast(); v.stride.removeLast() }
            if r.chance(20), !v.stride.isEmpty { v.stride.removeLast() }
        }
    }

    /// A child reference pointed at another earlier node.
    static func rewire(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        let parents = d.nodes.indices.filter { !d.nodes[$0].children.isEmpty }
        guard let p = parents.isEmpty ? nil : r.pick(parents), p > 0 else { return }
        d.nodes[p].children[r.below(d.nodes[p].children.count)] = r.below(p)
    }

    static func kind(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        guard d.nodes.count > 1 else { return }
        let i = r.below(d.nodes.count - 1)
        let k = r.pick([TorchDescription.Kind.list, .tuple, .int, .string, .none])
        d.nodes[i].kind = k
        if k != .dict { d.nodes[i].keys = [] }
        if k == .int || k == .string || k == .none { d.nodes[i].children = [] }
        d.nodes[i].view = nil
    }

    /// `expand()`: a tiny storage seen as a huge tensor through zero strides.
    static func expandedView(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        d.storages.append(.init(dtype: r.below(4), numel: 1, recordBytes: 8, fill: 0x3F))
        let rank = r.within(1 ... 3)
        let shape = (0 ..< rank).map { _ in r.pick([2, 1 << 10, 1 << 20, 1 << 25, 1 << 28, 1 << 31]) as Int64 }
        attach(&d, .init(kind: .tensor, view: .init(storage: d.storages.count - 1, offset: 0, shape: shape,
                                                    stride: [Int64](repeating: 0, count: rank), parameter: false)), key: "expanded")
    }

    static func layout(_ d: inout TorchDescription, _ r: inout FuzzRandom) {
        if r.chance(50) { d.folder = r.pick(["archive", "model", "", "a/b", "x\u{0}"]) } else { d.byteOrder = UInt8(r.below(3)) }
    }

    /// The nodes of `b` after those of `a` (references shifted), both roots under a new dict.
    static func cross(_ a: TorchDescription, _ b: TorchDescription) -> TorchDescription {
        var d = a
        let nodeShift = a.nodes.count, storageShift = a.storages.count
        d.storages += b.storages
        for var n in b.nodes {
            n.children = n.children.map { $0 + nodeShift }
            if n.view != nil { n.view!.storage += storageShift }
            d.nodes.append(n)
        }
        d.nodes.append(.init(kind: .dict, children: [nodeShift - 1, d.nodes.count - 1], keys: ["a", "b"]))
        if d.nodes.count > TorchDescription.maxNodes || d.storages.count > 256 { return a }
        return d
    }
}
