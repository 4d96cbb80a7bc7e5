import FuzzSupport
import LatteCore

/// Base references (FORMAT.md, "Base references"), the lies a hostile file can tell with
/// them: a tensor made a reference (its chunks dropped, or kept beside the reference), with
/// hashes of every length and case, names empty or with NUL, a twin kept, a base provenance
/// present, absent or malformed, the feature listed or not. The harness opens files without
/// a base, then against a base of their own stored tensors (BaseChecks), which a valid
/// reference to another tensor of the file resolves against.
extension ManifestMutator {
    mutating func reference() {
        guard tensorCount > 0 else { return }
        if tensorCount > 1, r.chance(40) { return validReference() }
        var r = self.r
        let i = r.below(tensorCount)
        let sum = tensor(i)?["xxh64"]?.stringValue ?? "0000000000000000"
        let name = tensor(i)?["name"] ?? .string("t")
        modifyTensor(i) { t in
            let hex = r.pick([sum, sum.uppercased(), "", "0", String(repeating: "f", count: 17), "zzzzzzzzzzzzzzzz"])
            let sha = r.pick([String(repeating: "a", count: 64), String(repeating: "A", count: 64), String(repeating: "a", count: 63), ""])
            let refName: JSONValue = r.pick([name, .string(""), .string("a\u{0}b"), .string("vlm.x"), .int(3)])
            t.set("base", r.chance(90) ? .object([("name", refName), ("xxh64", .string(hex)), ("sha256", .string(sha))]) : r.pick([.null, .array([]), .string("x")]))
            if r.chance(80), case var .object(members) = t {
                members.removeAll { $0.0 == "chunks" || ($0.0 == "twin" && r.chance(80)) }
                t = .object(members)
            }
        }
        let file: JSONValue = .object([("name", r.pick([.string("base.safetensors"), .string(""), .int(1)])),
                                        ("size", .int(r.boundary(near: 4096))), ("sha256", .string(String(repeating: "0", count: r.pick([64, 64, 2]))))])
        switch r.below(5) {
        case 0: break
        case 1: image.manifest.set("base", .object([("files", .array([]))]))
        default: image.manifest.set("base", .object([("files", .array(Array(repeating: file, count: 1 + r.below(3))))]))
        }
        if r.chance(85) {
            image.manifest.modify("features") { f in
                f.modify("required") { req in
                    if case var .array(items) = req, !items.contains(.string("base-ref")) { items.append(.string("base-ref")); req = .array(items) }
                }
            }
        }
        self.r = r
    }

    /// A tensor made a valid reference to another tensor of the file: the other's dtype,
    /// shape, nbytes and xxh64 copied, its chunks (and twin) dropped. Against the harness's
    /// base it reads as the other tensor's bytes.
    mutating func validReference() {
        let i = r.below(tensorCount)
        let k = (i + 1 + r.below(tensorCount - 1)) % tensorCount
        guard let other = tensor(k), let name = other["name"], let sum = other["xxh64"] else { return }
        var r = self.r
        modifyTensor(i) { t in
            for key in ["dtype", "shape", "nbytes", "xxh64"] { if let v = other[key] { t.set(key, v) } }
            t.set("base", .object([("name", name), ("xxh64", sum), ("sha256", .string(String(repeating: r.pick(["a", "0"]), count: 64)))]))
            if case var .object(members) = t {
                members.removeAll { $0.0 == "chunks" || $0.0 == "twin" }
                t = .object(members)
            }
        }
        image.manifest.set("base", .object([("files", .array([.object([("name", .string("base.safetensors")), ("size", .int(1)),
                                                                       ("sha256", .string(String(repeating: "0", count: 64)))])]))]))
        image.manifest.modify("features") { f in
            f.modify("required") { req in
                if case var .array(items) = req, !items.contains(.string("base-ref")) { items.append(.string("base-ref")); req = .array(items) }
            }
        }
        self.r = r
    }
}
