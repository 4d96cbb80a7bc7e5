import LatteCore

/// Where each tensor goes: sections in file order and the items (tensors, then embedded
/// files) in the order they are written.
struct Layout {
    enum Source { case tensor(Int), blob(Int) }
    struct Item { var source: Source; var section: Int; var placement: TensorPlacement? }

    var sections: [(name: String, kind: SectionEntry.Kind, group: Int?)] = []
    var items: [Item] = []

    init(checkpoint c: Checkpoint, plan: SectionPlan?, embedded: [(name: String, path: String)]) throws {
        var placements: [TensorPlacement?] = []
        for t in c.tensors {
            guard t.dtype.byteCount(elements: t.elementCount) != nil else { throw LatteWriteError.unsizedDType(tensor: t.name) }
            if let plan {
                guard let p = plan.placements[t.name] else { throw LatteWriteError.notInPlan(tensor: t.name) }
                placements.append(p)
            } else {
                placements.append(nil)
            }
        }
        // Section order: shared first (needed at every step), then groups ascending, then extra.
        func rank(_ p: TensorPlacement?) -> (Int, Int) {
            switch p?.section {
            case nil, .shared?: (0, 0)
            case let .group(g)?: (1, g)
            case .extra?: (2, 0)
            }
        }
        let order = c.tensors.indices.sorted {
            let a = rank(placements[$0]), b = rank(placements[$1])
            return a != b ? a < b : $0 < $1
        }
        var current: (Int, Int)? = nil
        for i in order {
            let r = rank(placements[i])
            if current.map({ $0 != r }) ?? true {
                current = r
                switch placements[i]?.section {
                case nil, .shared?: sections.append(("shared", .shared, nil))
                case let .group(g)?: sections.append(("group-\(g)", .group, g))
                case .extra?: sections.append(("extra", .extra, nil))
                }
            }
            items.append(Item(source: .tensor(i), section: sections.count - 1, placement: placements[i]))
        }
        if c.tensors.isEmpty { sections.append(("shared", .shared, nil)) }
        var names = Set<String>()
        for (k, e) in embedded.enumerated() {
            guard names.insert(e.name).inserted else { throw LatteWriteError.duplicateEmbeddedName(e.name) }
            sections.append(("blob:" + e.name, .blob, nil))
            items.append(Item(source: .blob(k), section: sections.count - 1, placement: nil))
        }
    }
}
