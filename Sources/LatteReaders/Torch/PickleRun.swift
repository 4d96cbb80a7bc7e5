/// One run of `PickleMachine` over a pickle: its input, stack, marks and memo. The opcodes
/// themselves are in `PickleRun+Opcodes.swift`.
struct PickleRun {
    typealias Opcode = PickleMachine.Opcode

    let input: UnsafeRawBufferPointer
    let limits: PickleMachine.Limits
    var pos = 0
    var stack: [PickleValue] = []
    var marks: [Int] = []
    /// The memo. Only entries a GET reads hold their value (see `PickleMemoScan`); the
    /// others are only counted, since MEMOIZE numbers an entry by how many there are:
    /// indices `0 ..< memoPrefix` are all present, and `memoHoles` holds those above it
    /// (pickles put in order, so it stays empty).
    var memoValues: [Int: PickleValue] = [:]
    var memoPrefix = 0
    var memoHoles = Set<Int>()
    let arena: PickleMachine.Arena
    /// Memo entries no GET reads are stored as None, so what they held can be freed.
    let memoScan: PickleMemoScan
    var opStart = 0

    init(input: UnsafeRawBufferPointer, limits: PickleMachine.Limits) {
        self.input = input
        self.limits = limits
        arena = PickleMachine.Arena(limits: limits)
        memoScan = PickleMemoScan(input, maxIndex: limits.maxMemoEntries)
    }

    // MARK: reading the input

    var remaining: Int { input.count - pos }

    mutating func byte() throws(PickleError) -> UInt8 {
        guard pos < input.count else { throw .truncated(offset: pos) }
        defer { pos += 1 }
        return input[pos]
    }

    mutating func fixed<T: FixedWidthInteger>(_: T.Type) throws(PickleError) -> T {
        let n = MemoryLayout<T>.size
        guard remaining >= n else { throw .truncated(offset: pos) }
        defer { pos += n }
        return T(littleEndian: input.loadUnaligned(fromByteOffset: pos, as: T.self))
    }

    /// `count` bytes, after checking that they are there (so nothing is allocated from a bogus length).
    mutating func take(_ count: UInt64, _ op: Opcode) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(remaining) else {
            throw .lengthExceedsInput(opcode: op.name, declared: count, remaining: remaining, offset: opStart)
        }
        let n = Int(count)
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: input[pos ..< pos + n])
    }

    /// A newline-terminated text argument (protocol 0 opcodes), without the newline.
    mutating func line() throws(PickleError) -> UnsafeRawBufferPointer {
        var end = pos
        while end < input.count, input[end] != 0x0A { end += 1 }
        guard end < input.count else { throw .truncated(offset: input.count) }
        defer { pos = end + 1 }
        return UnsafeRawBufferPointer(rebasing: input[pos ..< end])
    }

    func utf8(_ b: UnsafeRawBufferPointer, _ op: Opcode) throws(PickleError) -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw .invalidUTF8(opcode: op.name, offset: opStart) }
        return s
    }

    func ascii(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }

    // MARK: the stack

    mutating func push(_ v: PickleValue) throws(PickleError) {
        guard stack.count < limits.maxStackDepth else { throw .stackTooDeep(limit: limits.maxStackDepth) }
        stack.append(v)
    }

    mutating func pop(_ op: Opcode) throws(PickleError) -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw .stackUnderflow(opcode: op.name, offset: opStart) }
        return v
    }

    mutating func popToMark(_ op: Opcode) throws(PickleError) -> [PickleValue] {
        guard let m = marks.popLast() else { throw .markNotFound(opcode: op.name, offset: opStart) }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    func top(_ op: Opcode) throws(PickleError) -> PickleValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw .stackUnderflow(opcode: op.name, offset: opStart) }
        return v
    }

    // MARK: containers

    mutating func box(_ items: [PickleValue]) throws(PickleError) -> PickleBox {
        try arena.make(items)
    }

    /// An empty tuple: the shared one.
    func emptyTuple() -> PickleValue { .tuple(arena.emptyTuple) }

    // MARK: memo

    var memoCount: Int { memoPrefix + memoHoles.count }

    mutating func memoIndex(_ raw: UInt64) throws(PickleError) -> Int {
        guard raw < UInt64(limits.maxMemoEntries) else { throw .memoIndexTooLarge(index: raw, limit: limits.maxMemoEntries) }
        return Int(raw)
    }

    mutating func put(_ raw: UInt64, _ op: Opcode) throws(PickleError) {
        let i = try memoIndex(raw)
        let v = try top(op)
        // Count the entry, as the memo's length.
        if i == memoPrefix {
            memoPrefix += 1
            while memoHoles.remove(memoPrefix) != nil { memoPrefix += 1 }
        } else if i > memoPrefix, !memoHoles.contains(i) {
            guard memoCount < limits.maxMemoEntries else { throw .memoIndexTooLarge(index: raw, limit: limits.maxMemoEntries) }
            try arena.charge(PickleMachine.Cost.memoHole)
            memoHoles.insert(i)
        }
        guard memoScan.isRead(i) else { return }
        if memoValues.updateValue(v, forKey: i) == nil { try arena.charge(PickleMachine.Cost.memoValue) }
    }

    mutating func get(_ raw: UInt64) throws(PickleError) {
        let i = try memoIndex(raw)
        guard let v = memoValues[i] else { throw .memoMissing(index: i, offset: opStart) }
        try push(v)
    }

    // MARK: argument values

    /// LONG1/LONG4 payload: little-endian two's complement.
    func long(_ b: UnsafeRawBufferPointer) throws(PickleError) -> PickleValue {
        guard b.count <= limits.maxIntegerBytes else {
            throw .integerTooLong(bytes: b.count, limit: limits.maxIntegerBytes, offset: opStart)
        }
        if b.isEmpty { return .int(0) }
        if b.count <= 8 {
            var u: UInt64 = 0
            for (k, x) in b.enumerated() { u |= UInt64(x) << (8 * UInt64(k)) }
            // Sign-extend from the top byte.
            if b.count < 8, b[b.count - 1] & 0x80 != 0 { u |= ~UInt64(0) << (8 * UInt64(b.count)) }
            return .int(Int(Int64(bitPattern: u)))
        }
        return .bigInt(Array(b))
    }

    /// Protocol 0 UNICODE: raw-unicode-escape (`\uXXXX`, `\UXXXXXXXX`, other bytes Latin-1).
    func rawUnicodeEscape(_ b: UnsafeRawBufferPointer) throws(PickleError) -> String {
        var s = String.UnicodeScalarView()
        var i = 0
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 1 < b.count, b[i + 1] == UInt8(ascii: "u") || b[i + 1] == UInt8(ascii: "U") {
                let n = b[i + 1] == UInt8(ascii: "u") ? 4 : 8
                guard i + 2 + n <= b.count, let v = UInt32(ascii(UnsafeRawBufferPointer(rebasing: b[i + 2 ..< i + 2 + n])), radix: 16),
                      let u = Unicode.Scalar(v)
                else { throw .badText(opcode: Opcode.UNICODE.name, offset: opStart) }
                s.append(u)
                i += 2 + n
            } else {
                s.append(Unicode.Scalar(b[i]))
                i += 1
            }
        }
        return String(s)
    }

    /// Protocol 0 STRING: a Python repr in single or double quotes, with simple escapes.
    func quotedString(_ b: UnsafeRawBufferPointer) throws(PickleError) -> String {
        guard b.count >= 2, let q = b.first, q == UInt8(ascii: "'") || q == UInt8(ascii: "\""), b[b.count - 1] == q else {
            throw .badText(opcode: Opcode.STRING.name, offset: opStart)
        }
        var out: [UInt8] = []
        var i = 1
        while i < b.count - 1 {
            if b[i] == UInt8(ascii: "\\"), i + 1 < b.count - 1 {
                let e = b[i + 1]
                i += 2
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "x"):
                    guard i + 2 <= b.count - 1, let v = UInt8(ascii(UnsafeRawBufferPointer(rebasing: b[i ..< i + 2])), radix: 16) else {
                        throw .badText(opcode: Opcode.STRING.name, offset: opStart)
                    }
                    out.append(v)
                    i += 2
                default: out.append(e)
                }
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `('storage', StorageClass, key, location, numel[, view_metadata])`.
    func storageRef(_ pid: PickleValue) throws(PickleError) -> StorageRef {
        guard let items = pid.sequence else { throw .badPersistentID(reason: "expected a tuple, found \(pid.kind)") }
        guard let tag = items.first?.stringValue else { throw .badPersistentID(reason: "expected a tuple starting with 'storage'") }
        guard tag == "storage" else {
            throw .badPersistentID(reason: "'\(tag.prefix(40))' ids are not supported (only 'storage')")
        }
        guard items.count == 5 || items.count == 6 else {
            throw .badPersistentID(reason: "expected 5 or 6 items, found \(items.count)")
        }
        guard case let .global(.storageClass(type, _)) = items[1] else {
            throw .badPersistentID(reason: "item 2 must be a storage class, found \(items[1].kind)")
        }
        guard let key = items[2].stringValue else { throw .badPersistentID(reason: "the storage key must be a string, found \(items[2].kind)") }
        // A key or location given as bytes is decoded anew for each use.
        try arena.charge(key.utf8.count + (items[3].stringValue?.utf8.count ?? 0))
        let location: String
        switch items[3] {
        case let .device(d): location = d
        default:
            guard let l = items[3].stringValue else { throw .badPersistentID(reason: "storage '\(key)': the location must be a string") }
            location = l
        }
        guard let numel = items[4].intValue, numel >= 0 else {
            throw .badPersistentID(reason: "storage '\(key)': the element count must be a non-negative integer, found \(items[4].kind)")
        }
        var ref = StorageRef(type: type, key: key, location: location, numel: numel, view: nil)
        if items.count == 6 {
            switch items[5] {
            case .none: break
            default:
                guard let v = items[5].sequence, v.count == 3, let vk = v[0].stringValue, let off = v[1].intValue, let size = v[2].intValue,
                      off >= 0, size >= 0
                else { throw .badPersistentID(reason: "storage '\(key)': invalid view metadata") }
                ref.view = (vk, off, size)
            }
        }
        return ref
    }
}
