import FuzzSupport
import LatteCore
import LatteFormat

/// A `.latte` file taken apart for mutation: the bytes before the manifest (header and data
/// region) and the manifest as JSON. `bytes` puts it back together with a freshly signed
/// trailer (docs/FORMAT.md §1: manifest offset, length, XXH64 of the manifest, `LATTEEND`),
/// so that every mutation of the manifest gets past the trailer check and reaches the parser.
struct LatteImage {
    /// Header and data region: everything before the manifest.
    var front: [UInt8]
    var manifest: JSONValue

    /// What `JSONValue` cannot hold but a hostile manifest can: a lone UTF-16 surrogate.
    /// Strings carry this marker, which `bytes` replaces by the escape `\ud800`.
    static let loneSurrogateMarker = "\u{F8FF}D800"

    /// Splits `bytes` when its trailer is plausible and its manifest is JSON; nil otherwise.
    init?(_ bytes: UnsafeRawBufferPointer) {
        let headerSize = LatteLayout.headerSize, trailerSize = LatteLayout.trailerSize
        guard bytes.count >= headerSize + trailerSize else { return nil }
        let t = bytes.count - trailerSize
        guard Array(bytes[t + 24 ..< t + 32]) == LatteLayout.endMagic else { return nil }
        let m = bytes.loadUnaligned(fromByteOffset: t, as: UInt64.self).littleEndian
        let n = bytes.loadUnaligned(fromByteOffset: t + 8, as: UInt64.self).littleEndian
        guard m >= UInt64(headerSize), m <= UInt64(t), n == UInt64(t) - m else { return nil }
        guard let json = try? JSON.parse(UnsafeRawBufferPointer(rebasing: bytes[Int(m) ..< t])) else { return nil }
        // A compressed manifest (FORMAT.md 4a, the writer's default): its envelope has no
        // tensors to mutate, so the file is taken apart at its frame instead, with the
        // manifest the reader decodes (the file then goes back together with a plain one).
        if let frame = json["manifest"]?["offset"]?.intValue {
            guard frame >= headerSize, frame <= Int(m),
                  let file = try? LatteFile(path: writeInputFile(bytes, tag: "latte-image")) else { return nil }
            front = Array(bytes[0 ..< frame])
            manifest = file.manifest.json
            return
        }
        front = Array(bytes[0 ..< Int(m)])
        manifest = json
    }

    init(front: [UInt8], manifest: JSONValue) {
        self.front = front
        self.manifest = manifest
    }

    /// The whole file: front, serialized manifest, trailer signed over that manifest.
    var bytes: [UInt8] {
        var text = manifest.serialized()
        if text.contains(LatteImage.loneSurrogateMarker) {
            text = text.replacing(LatteImage.loneSurrogateMarker, with: "\\ud800")
        }
        let json = Array(text.utf8)
        var out = front
        out.reserveCapacity(front.count + json.count + LatteLayout.trailerSize)
        out += json
        appendLE(&out, UInt64(front.count))
        appendLE(&out, UInt64(json.count))
        appendLE(&out, XXH64.hash(json))
        out += LatteLayout.endMagic
        return out
    }
}

func appendLE(_ out: inout [UInt8], _ v: UInt64) {
    for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
}

/// 16 lowercase hex digits, as the manifest spells checksums.
func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

// MARK: - Editing JSON in place

extension JSONValue {
    /// Sets member `key` of an object (replacing the first one of that name, else appending).
    mutating func set(_ key: String, _ value: JSONValue) {
        guard case var .object(members) = self else { return }
        if let i = members.firstIndex(where: { $0.0 == key }) { members[i].1 = value } else { members.append((key, value)) }
        self = .object(members)
    }

    /// Applies `change` to member `key` of an object, if there is one.
    mutating func modify(_ key: String, _ change: (inout JSONValue) -> Void) {
        guard case var .object(members) = self, let i = members.firstIndex(where: { $0.0 == key }) else { return }
        self = .null
        change(&members[i].1)
        self = .object(members)
    }

    /// Applies `change` to item `index` of an array, if there is one.
    mutating func modify(item index: Int, _ change: (inout JSONValue) -> Void) {
        guard case var .array(items) = self, items.indices.contains(index) else { return }
        self = .null
        change(&items[index])
        self = .array(items)
    }

    /// The number of items of an array (0 for anything else).
    var itemCount: Int { arrayValue?.count ?? 0 }

    /// Every path to an integer in the document, as member/item positions.
    func integerPaths(_ prefix: [Int] = [], into out: inout [[Int]]) {
        switch self {
        case .int, .uint: out.append(prefix)
        case let .array(items): for (i, v) in items.enumerated() { v.integerPaths(prefix + [i], into: &out) }
        case let .object(members): for (i, m) in members.enumerated() { m.1.integerPaths(prefix + [i], into: &out) }
        default: break
        }
    }

    /// Every path to a non-empty array (`arrays`) or object (`!arrays`), in one traversal.
    func containerPaths(arrays: Bool, _ prefix: [Int] = [], into out: inout [[Int]]) {
        switch self {
        case let .array(items):
            if arrays, !items.isEmpty { out.append(prefix) }
            for (i, v) in items.enumerated() { v.containerPaths(arrays: arrays, prefix + [i], into: &out) }
        case let .object(members):
            if !arrays, !members.isEmpty { out.append(prefix) }
            for (i, m) in members.enumerated() { m.1.containerPaths(arrays: arrays, prefix + [i], into: &out) }
        default: break
        }
    }

    /// Every path to any value (objects and arrays included).
    func allPaths(_ prefix: [Int] = [], into out: inout [[Int]]) {
        out.append(prefix)
        switch self {
        case let .array(items): for (i, v) in items.enumerated() { v.allPaths(prefix + [i], into: &out) }
        case let .object(members): for (i, m) in members.enumerated() { m.1.allPaths(prefix + [i], into: &out) }
        default: break
        }
    }

    /// Applies `change` to the value at `path` (positions from `integerPaths`/`allPaths`).
    mutating func modify(path: ArraySlice<Int>, _ change: (inout JSONValue) -> Void) {
        guard let first = path.first else { change(&self); return }
        switch self {
        case var .array(items) where items.indices.contains(first):
            self = .null
            items[first].modify(path: path.dropFirst(), change)
            self = .array(items)
        case var .object(members) where members.indices.contains(first):
            self = .null
            members[first].1.modify(path: path.dropFirst(), change)
            self = .object(members)
        default: break
        }
    }
}
