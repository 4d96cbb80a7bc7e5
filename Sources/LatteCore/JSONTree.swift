import LatteSystem

/// A parsed JSON document: the tape and the text it points into, for readers that walk large
/// documents (a safetensors header of 10^6 tensors, a manifest) in place.
///
/// The text is a copy the tree owns (`JSON.parseTree(_:)`), or a mapped file's bytes that the
/// tree keeps mapped by holding the file (`JSON.parseTree(in:range:)`). Either way, nodes
/// hold a reference to their tree, so a node never outlives the memory it reads.
///
/// Memory: the tape, 8 bytes per value and per key (`JSONTape`), plus the copy if any. The
/// tape is at most 4x the text (the densest text, `[0,0,0,…]`, has a value per 2 bytes) and
/// 1.07x for a `.latte` manifest or a safetensors header. Measured peak RSS above the mapped
/// text (bench/json, with the copy): 2.1x the document for 20 MB and 90 MB manifest-like
/// documents (objects of ~10 keys with shape and chunk arrays) and a header of 10^6 tensors,
/// where json-c's tree took 15.9x (19x for the header).
///
/// Unchecked Sendable (it holds pointers): nothing is written after `init`; the tape and the
/// owned text are freed only in `deinit`, and borrowed text stays valid as long as `owner`.
public final class JSONTree: @unchecked Sendable {
    let document: JSONDocument
    private let tape: UnsafeMutablePointer<UInt64>
    /// The copy of the text this tree frees, or nil when `owner` holds the text.
    private let ownedText: UnsafeMutableRawPointer?
    /// Keeps borrowed text valid (a `ByteRegion`).
    private let owner: AnyObject?

    /// Takes ownership of `tape` (malloc'd) and of `ownedText` (from `UnsafeMutableRawPointer.allocate`)
    /// when given, else keeps `owner`, which must keep `text` valid.
    init(text: UnsafeRawPointer, textCount: Int, ownedText: UnsafeMutableRawPointer?, owner: AnyObject?,
         tape: UnsafeMutablePointer<UInt64>, count: Int) {
        self.ownedText = ownedText
        self.owner = owner
        self.tape = tape
        document = JSONDocument(text: text.assumingMemoryBound(to: UInt8.self), textCount: textCount,
                                tape: UnsafePointer(tape), count: count)
    }

    deinit {
        free(tape)
        ownedText?.deallocate()
    }

    /// The root value.
    public var root: JSONNode { JSONNode(tree: self, index: 0) }

    /// Values and keys in the document (the tape's length).
    public var tapeCount: Int { document.count }
}

/// One value in a `JSONTree`, read in place: nothing is decoded or copied until asked.
public struct JSONNode: Sendable {
    /// Keeps the tree, and so the bytes this node reads, alive.
    let tree: JSONTree
    let index: Int

    @inline(__always) private var doc: JSONDocument { tree.document }
    @inline(__always) private var kind: JSONTape.Kind { doc.kind(index) }

    /// The value converted to a `JSONValue` (copies).
    public var value: JSONValue { doc.value(index) }

    public var isObject: Bool { kind == .object }
    public var isArray: Bool { kind == .array }
    public var isString: Bool { kind == .string }
    public var isNull: Bool { kind == .null }

    /// A string's decoded bytes equal `s`, compared without building a Swift string.
    public func stringEquals(_ s: StaticString) -> Bool {
        kind == .string && doc.stringEquals(index, UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// True when both nodes are strings that decode to the same bytes (compared in place).
    public func sameString(as other: JSONNode) -> Bool {
        guard kind == .string, other.kind == .string else { return false }
        if !other.doc.hasEscapes(other.index) { return doc.stringEquals(index, other.doc.rawString(other.index)) }
        return other.doc.withStringBytes(other.index) { doc.stringEquals(index, $0) }
    }

    /// A string, decoded (`\u0000` gives a NUL character; nothing is cut short).
    public var string: String? { kind == .string ? doc.string(index) : nil }

    /// A number written without fraction or exponent (of any size).
    public var isInteger: Bool { kind == .number && JSONTape.flag(doc.word(index)) }

    /// A number's token exactly as written (for messages: `1e999`, `18446744073709551616`).
    public var numberText: String? {
        guard kind == .number else { return nil }
        let w = doc.word(index)
        return String(decoding: UnsafeBufferPointer(start: doc.text + JSONTape.b(w), count: JSONTape.a(w)), as: UTF8.self)
    }

    /// An integer written without fraction or exponent that fits `Int64`; nil otherwise.
    public var int64: Int64? { doc.int64(index) }
    /// A non-negative integer written without fraction or exponent that fits `UInt64`.
    public var uint64: UInt64? { doc.uint64(index) }
    /// An integer that fits `Int`.
    public var intValue: Int? { int64.flatMap { Int(exactly: $0) } }
    /// Any number, as the nearest double.
    public var doubleValue: Double? { doc.double(index) }
    public var boolValue: Bool? {
        switch kind {
        case .true: true
        case .false: false
        default: nil
        }
    }

    /// Elements of an array, members of an object, 0 for anything else.
    public var count: Int {
        switch kind {
        case .array, .object: JSONTape.a(doc.word(index))
        default: 0
        }
    }

    /// The element at `position` of an array: O(1) when every element is a scalar (a
    /// shape, offsets), else a walk over the elements before it. Traps when out of range.
    public subscript(position: Int) -> JSONNode {
        precondition(kind == .array && position >= 0 && position < count, "JSON array index out of range")
        let end = JSONTape.b(doc.word(index))
        if end - index - 1 == count { return JSONNode(tree: tree, index: index + 1 + position) }
        var j = index + 1
        for _ in 0 ..< position { j = doc.next(after: j) }
        return JSONNode(tree: tree, index: j)
    }

    /// The member called `key` of an object (a linear search, in document order).
    public subscript(key: String) -> JSONNode? {
        guard kind == .object else { return nil }
        var key = key
        return key.withUTF8 { k in
            var j = index + 1
            let end = JSONTape.b(doc.word(index))
            while j < end {
                if doc.stringEquals(j, k) { return JSONNode(tree: tree, index: j + 1) }
                j = doc.next(after: j + 1)
            }
            return nil
        }
    }

    // The accessors of `JSONValue`, so that code reading a document can take either.

    /// A string, decoded (the same as `string`).
    public var stringValue: String? { string }
    /// An array's elements as nodes (no value is copied), nil for anything else.
    public var arrayValue: [JSONNode]? { kind == .array ? Array(elements) : nil }
    /// An object's members with decoded keys, in document order; nil for anything else.
    public var objectValue: [(String, JSONNode)]? { kind == .object ? members.map { ($0.key.string, $0.value) } : nil }

    /// An array's elements in order (empty for anything else).
    public var elements: Elements { Elements(node: self) }

    /// An object's members in document order (empty for anything else).
    public var members: Members { Members(node: self) }

    /// Calls `body` with each member's key and value, in document order.
    public func forEachMember<E: Error>(_ body: (JSONKey, JSONNode) throws(E) -> Void) throws(E) {
        guard kind == .object else { return }
        var j = index + 1
        let end = JSONTape.b(doc.word(index))
        while j < end {
            try body(JSONKey(tree: tree, index: j), JSONNode(tree: tree, index: j + 1))
            j = doc.next(after: j + 1)
        }
    }

    public var typeName: String {
        switch kind {
        case .null: "null"
        case .true, .false: "a boolean"
        case .number: JSONTape.flag(doc.word(index)) ? "an integer" : "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }

    public struct Elements: Sequence {
        let node: JSONNode
        public var underestimatedCount: Int { node.count }
        public func makeIterator() -> Iterator {
            let isArray = node.kind == .array
            return Iterator(tree: node.tree, position: node.index + 1, end: isArray ? JSONTape.b(node.doc.word(node.index)) : node.index + 1)
        }
        public struct Iterator: IteratorProtocol {
            let tree: JSONTree
            var position: Int
            let end: Int
            public mutating func next() -> JSONNode? {
                guard position < end else { return nil }
                defer { position = tree.document.next(after: position) }
                return JSONNode(tree: tree, index: position)
            }
        }
    }

    public struct Members: Sequence {
        let node: JSONNode
        public var underestimatedCount: Int { node.count }
        public func makeIterator() -> Iterator {
            let isObject = node.kind == .object
            return Iterator(tree: node.tree, position: node.index + 1, end: isObject ? JSONTape.b(node.doc.word(node.index)) : node.index + 1)
        }
        public struct Iterator: IteratorProtocol {
            let tree: JSONTree
            var position: Int
            let end: Int
            public mutating func next() -> (key: JSONKey, value: JSONNode)? {
                guard position < end else { return nil }
                defer { position = tree.document.next(after: position + 1) }
                return (JSONKey(tree: tree, index: position), JSONNode(tree: tree, index: position + 1))
            }
        }
    }
}

/// An object member's name in a `JSONTree`, decoded on demand.
public struct JSONKey: Sendable {
    let tree: JSONTree
    let index: Int

    /// The name, decoded (a `\u0000` escape gives a NUL character; nothing is cut short).
    public var string: String { tree.document.string(index) }

    /// The decoded name equals `s`, compared without building a Swift string.
    public func equals(_ s: StaticString) -> Bool {
        tree.document.stringEquals(index, UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// The name as a string node (for `JSONNode.sameString(as:)` and friends).
    public var node: JSONNode { JSONNode(tree: tree, index: index) }
}
