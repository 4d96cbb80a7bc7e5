/// A pickle virtual machine (protocols 0 to 5, as far as tensor files need) that never
/// executes or imports anything.
///
/// Globals resolve only against `TorchGlobal`'s allowlist; REDUCE, NEWOBJ and BUILD act
/// only on those, producing symbolic values (a tensor is a `TensorValue` description).
/// Every resource a hostile pickle could inflate is bounded: opcodes run, stack depth,
/// container nesting, memo entries, the bytes of values built (by the bytes read so far),
/// and every declared length is checked against the remaining input before anything is
/// allocated.
public struct PickleMachine {
    /// Resource limits; the defaults are far above what any real checkpoint pickle needs.
    public struct Limits: Sendable {
        public var maxOpcodes = 50_000_000
        public var maxStackDepth = 100_000
        public var maxNesting = 1_000
        public var maxMemoEntries = 1 << 24
        /// LONG1/LONG4 integers: torch's largest is the 10-byte legacy magic number.
        public var maxIntegerBytes = 256
        /// What the values alive may cost (containers and their items while they live;
        /// memo entries, tensors, storages once made; see `Cost`), per byte of pickle read
        /// so far: at every opcode, cost ≤ `allocationBytesPerInputByte` × bytes read +
        /// `allocationAllowance`. A pickle is a program, and a one-byte opcode can build a
        /// 100-byte object (TUPLE1, REDUCE of memoized arguments, MEMOIZE): without this,
        /// memory would follow the opcodes run, not the bytes present. torch's own pickles
        /// peak at 4.5 to 6.3 bytes per byte (the reader fixtures, protocols 2 and 4,
        /// checked by `PickleBudgetTests`), so 16 leaves 2.5 times that; the allowance lets
        /// a small pickle build its few thousand objects whatever their shape.
        public var allocationBytesPerInputByte = 16
        public var allocationAllowance = 16 << 20
        /// And whatever the pickle's size: with an array's growth (the old buffer and the
        /// new, at most 1.5 times this) and the file mapped, a pickle stays inside the
        /// 1 GiB memory budget. torch's pickles would need 48 MB, some 400,000 tensors,
        /// to come near it; real ones are a few MB at most (a shard of a few hundred tensors).
        public var maxAllocationBytes = 384 << 20
        public init() {}
    }

    /// What each value built is charged, in bytes: close to what it really takes on the
    /// heap (an object header and its fields, an array slot of 16 bytes per value, arrays
    /// by their capacity, not their count).
    enum Cost {
        static let box = 64
        static let item = 16
        static let entry = 32
        /// A memo entry a GET reads: a dictionary slot (key, value, hash, load factor).
        static let memoValue = 64
        /// A memo index put out of order, remembered in a set to count the entries.
        static let memoHole = 32
        static let storage = 96
        static let tensor = 160
        static let global = 64
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// The value a pickle unpickles to, and where its STOP opcode ended.
    public struct Result {
        public var value: PickleValue
        /// Bytes consumed, STOP included (the legacy format concatenates pickles).
        public var length: Int
        /// Keeps the containers that may sit on a cycle until `release()`; see `PickleBox`.
        fileprivate var arena: Arena

        /// The most the values built were charged at once against the allocation budget.
        var peakBytesCharged: Int { arena.peak }

        /// Empties the containers that may hold cycles, so that they are freed too. Values
        /// taken from the result must not be used afterwards.
        public func release() { arena.release() }
    }

    /// Makes every container and charges what the machine builds against its budget.
    final class Arena {
        let maxNesting: Int
        let bytesPerInputByte: Int
        let allowance: Int
        let maxBytes: Int
        /// Bytes read so far: the budget grows with them.
        var inputBytes = 0
        /// Live boxes refund their cost when they die; other values (tensors, storages,
        /// memo entries) are counted once made.
        let ledger = PickleLedger()
        var peak = 0
        /// Boxes that were given a container after they were made: only they can close a cycle.
        var mayCycle: [PickleBox] = []
        /// `()`: immutable, so one box serves every empty tuple (as in CPython).
        let emptyTuple = PickleBox()

        init(limits: PickleMachine.Limits) {
            maxNesting = limits.maxNesting
            bytesPerInputByte = limits.allocationBytesPerInputByte
            allowance = limits.allocationAllowance
            maxBytes = limits.maxAllocationBytes
        }

        /// The budget now: it grows with the bytes read, up to `maxBytes`.
        var limit: Int {
            let (scaled, o1) = inputBytes.multipliedReportingOverflow(by: bytesPerInputByte)
            let (sum, o2) = scaled.addingReportingOverflow(allowance)
            return o1 || o2 ? maxBytes : min(sum, maxBytes)
        }

        /// Refuses `bytes` more when they would not fit the budget.
        func check(_ bytes: Int) throws(PickleError) {
            let (total, o) = ledger.live.addingReportingOverflow(bytes)
            guard !o, total <= limit else {
                throw .allocationBudgetExceeded(limit: limit, inputBytes: inputBytes, perByte: bytesPerInputByte,
                                                allowance: allowance, cap: maxBytes)
            }
        }

        /// Counts `bytes` against the budget, refusing them beyond it.
        func charge(_ bytes: Int) throws(PickleError) {
            try check(bytes)
            ledger.live += bytes
            peak = max(peak, ledger.live)
        }

        /// Makes room for `extra` more elements in `array`, charging the capacity added.
        /// Swift doubles a full array's buffer: the doubled size is checked before the
        /// buffer exists, and what was really allocated is counted.
        func grow<T>(_ array: inout [T], by extra: Int, unit: Int) throws(PickleError) {
            let needed = array.count + extra
            let before = array.capacity
            guard needed > before else { return }
            let target = max(needed, 2 * before)
            try check((target - before) * unit)
            array.reserveCapacity(target)
            try charge((array.capacity - before) * unit)
        }

        func depth(of v: PickleValue) -> Int {
            switch v {
            case let .list(b), let .tuple(b), let .dict(b), let .set(b): Int(b.depth)
            default: 0
            }
        }

        /// A new box holding `items`, charged and its nesting checked.
        func make(_ items: [PickleValue] = []) throws(PickleError) -> PickleBox {
            try charge(Cost.box + items.capacity * Cost.item)
            let b = PickleBox(items: items, ledger: ledger)
            try noteChildren(of: b, items, isNew: true)
            return b
        }

        /// Records that `children` went into `b`: its depth, bounded; and, when `b` existed
        /// before and a child is a container, that `b` may now close a cycle.
        func noteChildren(of b: PickleBox, _ children: [PickleValue], isNew: Bool) throws(PickleError) {
            var d = Int(b.depth)
            var container = false
            for c in children {
                let cd = depth(of: c)
                if cd > 0 { container = true; d = max(d, cd + 1) }
            }
            guard d <= maxNesting else { throw .nestingTooDeep(limit: maxNesting) }
            b.depth = Int32(d)
            if container, !isNew, !b.inArena {
                b.inArena = true
                mayCycle.append(b)
            }
        }

        func release() {
            for b in mayCycle {
                ledger.live -= b.cost - Cost.box
                b.items.removeAll()
                b.entries.removeAll()
            }
            mayCycle.removeAll()
        }
    }

    /// Runs the pickle at the start of `input` up to its STOP opcode.
    public func run(_ input: UnsafeRawBufferPointer) throws(PickleError) -> Result {
        var vm = Run(input: input, limits: limits)
        do {
            let value = try vm.execute()
            return Result(value: value, length: vm.pos, arena: vm.arena)
        } catch {
            vm.stack.removeAll()
            vm.memoValues.removeAll()
            vm.arena.release()
            throw error
        }
    }
}

private struct Run {
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
    mutating func take(_ count: UInt64, _ opcode: String) throws(PickleError) -> UnsafeRawBufferPointer {
        guard count <= UInt64(remaining) else {
            throw .lengthExceedsInput(opcode: opcode, declared: count, remaining: remaining, offset: opStart)
        }
        let n = Int(count)
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: input[pos ..< pos + n])
    }

    /// A newline-terminated text argument (protocol 0 opcodes), without the newline.
    mutating func line(_ opcode: String) throws(PickleError) -> UnsafeRawBufferPointer {
        var end = pos
        while end < input.count, input[end] != 0x0A { end += 1 }
        guard end < input.count else { throw .truncated(offset: input.count) }
        defer { pos = end + 1 }
        return UnsafeRawBufferPointer(rebasing: input[pos ..< end])
    }

    func utf8(_ b: UnsafeRawBufferPointer, _ opcode: String) throws(PickleError) -> String {
        guard let s = String(validating: b, as: UTF8.self) else { throw .invalidUTF8(opcode: opcode, offset: opStart) }
        return s
    }

    func ascii(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }

    // MARK: the stack

    mutating func push(_ v: PickleValue) throws(PickleError) {
        guard stack.count < limits.maxStackDepth else { throw .stackTooDeep(limit: limits.maxStackDepth) }
        stack.append(v)
    }

    mutating func pop(_ opcode: String) throws(PickleError) -> PickleValue {
        guard let v = stack.popLast(), stack.count >= (marks.last ?? 0) else { throw .stackUnderflow(opcode: opcode, offset: opStart) }
        return v
    }

    mutating func popToMark(_ opcode: String) throws(PickleError) -> [PickleValue] {
        guard let m = marks.popLast() else { throw .markNotFound(opcode: opcode, offset: opStart) }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    func top(_ opcode: String) throws(PickleError) -> PickleValue {
        guard let v = stack.last, stack.count > (marks.last ?? 0) else { throw .stackUnderflow(opcode: opcode, offset: opStart) }
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

    mutating func put(_ raw: UInt64, _ opcode: String) throws(PickleError) {
        let i = try memoIndex(raw)
        let v = try top(opcode)
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

    // MARK: the loop

    mutating func execute() throws(PickleError) -> PickleValue {
        var ops = 0
        while true {
            ops += 1
            guard ops <= limits.maxOpcodes else { throw .tooManyOpcodes(limit: limits.maxOpcodes) }
            opStart = pos
            arena.inputBytes = pos
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let v = try byte()
                guard v <= 5 else { throw .unsupportedProtocol(Int(v)) }
            case 0x95: // FRAME: framing is only a buffering hint, but its length must be real.
                let n = try fixed(UInt64.self)
                guard n <= UInt64(remaining) else {
                    throw .lengthExceedsInput(opcode: "FRAME", declared: n, remaining: remaining, offset: opStart)
                }
            case 0x2E: // STOP
                guard marks.isEmpty, stack.count == 1, let v = stack.popLast() else {
                    throw .wrongOperand(opcode: "STOP", expected: "exactly one value on the stack", found: "\(stack.count)", offset: opStart)
                }
                return v
            case 0x28: // MARK
                guard marks.count < limits.maxStackDepth else { throw .stackTooDeep(limit: limits.maxStackDepth) }
                marks.append(stack.count)
            case 0x30: // POP
                if stack.count == (marks.last ?? 0), !marks.isEmpty { marks.removeLast() } else { _ = try pop("POP") }
            case 0x31: // POP_MARK
                _ = try popToMark("POP_MARK")
            case 0x32: // DUP
                try push(try top("DUP"))

            // Constants and numbers
            case 0x4E: try push(.none)
            case 0x88: try push(.bool(true))
            case 0x89: try push(.bool(false))
            case 0x4A: try push(.int(Int(try fixed(Int32.self))))
            case 0x4B: try push(.int(Int(try byte())))
            case 0x4D: try push(.int(Int(try fixed(UInt16.self))))
            case 0x49: // INT: decimal text; "01"/"00" are protocol 0's True/False
                let t = ascii(try line("INT"))
                if t == "01" { try push(.bool(true)) } else if t == "00" { try push(.bool(false)) } else {
                    guard let i = Int(t) else { throw .badText(opcode: "INT", offset: opStart) }
                    try push(.int(i))
                }
            case 0x4C: // LONG: decimal text with an optional trailing L
                var t = ascii(try line("LONG"))
                if t.hasSuffix("L") { t.removeLast() }
                guard let i = Int(t) else { throw .badText(opcode: "LONG", offset: opStart) }
                try push(.int(i))
            case 0x8A: // LONG1
                let n = try byte()
                try push(try long(try take(UInt64(n), "LONG1")))
            case 0x8B: // LONG4
                let n = try fixed(Int32.self)
                guard n >= 0 else { throw .badText(opcode: "LONG4", offset: opStart) }
                let b = try take(UInt64(n), "LONG4")
                try push(try long(b))
            case 0x47: // BINFLOAT: big-endian IEEE double
                let bits = try fixed(UInt64.self)
                try push(.float(Double(bitPattern: bits.byteSwapped)))
            case 0x46: // FLOAT
                guard let d = Double(ascii(try line("FLOAT"))) else { throw .badText(opcode: "FLOAT", offset: opStart) }
                try push(.float(d))

            // Strings and bytes
            case 0x58: try push(.string(try utf8(try take(UInt64(try fixed(UInt32.self)), "BINUNICODE"), "BINUNICODE")))
            case 0x8C: try push(.string(try utf8(try take(UInt64(try byte()), "SHORT_BINUNICODE"), "SHORT_BINUNICODE")))
            case 0x8D: try push(.string(try utf8(try take(try fixed(UInt64.self), "BINUNICODE8"), "BINUNICODE8")))
            case 0x56: try push(.string(try rawUnicodeEscape(try line("UNICODE"))))
            case 0x54: // BINSTRING: Python 2 str, read as text as torch.load does (encoding utf-8)
                let n = try fixed(Int32.self)
                guard n >= 0 else { throw .badText(opcode: "BINSTRING", offset: opStart) }
                try push(.string(try utf8(try take(UInt64(n), "BINSTRING"), "BINSTRING")))
            case 0x55: try push(.string(try utf8(try take(UInt64(try byte()), "SHORT_BINSTRING"), "SHORT_BINSTRING")))
            case 0x53: try push(.string(try quotedString(try line("STRING"))))
            case 0x42: try push(.bytes(Array(try take(UInt64(try fixed(UInt32.self)), "BINBYTES"))))
            case 0x43: try push(.bytes(Array(try take(UInt64(try byte()), "SHORT_BINBYTES"))))
            case 0x8E: try push(.bytes(Array(try take(try fixed(UInt64.self), "BINBYTES8"))))
            case 0x96: try push(.bytes(Array(try take(try fixed(UInt64.self), "BYTEARRAY8"))))

            // Containers
            case 0x5D: try push(.list(try box([])))
            case 0x7D: try push(.dict(try box([])))
            case 0x29: try push(emptyTuple())
            case 0x8F: try push(.set(try box([])))
            case 0x85: let a = try pop("TUPLE1"); try push(.tuple(try box([a])))
            case 0x86:
                let b = try pop("TUPLE2"), a = try pop("TUPLE2")
                try push(.tuple(try box([a, b])))
            case 0x87:
                let c = try pop("TUPLE3"), b = try pop("TUPLE3"), a = try pop("TUPLE3")
                try push(.tuple(try box([a, b, c])))
            case 0x74:
                let items = try popToMark("TUPLE")
                try push(items.isEmpty ? emptyTuple() : .tuple(try box(items)))
            case 0x6C: try push(.list(try box(try popToMark("LIST"))))
            case 0x91: try push(.set(try box(try popToMark("FROZENSET"))))
            case 0x64: // DICT
                let items = try popToMark("DICT")
                guard items.count % 2 == 0 else {
                    throw .wrongOperand(opcode: "DICT", expected: "key/value pairs", found: "\(items.count) values", offset: opStart)
                }
                let b = try box([])
                try setItems(b, items, isNew: true)
                try push(.dict(b))
            case 0x61: // APPEND
                let v = try pop("APPEND")
                try appendItems([v], "APPEND")
            case 0x65: // APPENDS
                let items = try popToMark("APPENDS")
                try appendItems(items, "APPENDS")
            case 0x73: // SETITEM
                let v = try pop("SETITEM"), k = try pop("SETITEM")
                guard case let .dict(b) = try top("SETITEM") else {
                    throw .wrongOperand(opcode: "SETITEM", expected: "a dict", found: try top("SETITEM").kind, offset: opStart)
                }
                try setItems(b, [k, v])
            case 0x75: // SETITEMS
                let items = try popToMark("SETITEMS")
                guard items.count % 2 == 0 else {
                    throw .wrongOperand(opcode: "SETITEMS", expected: "key/value pairs", found: "\(items.count) values", offset: opStart)
                }
                guard case let .dict(b) = try top("SETITEMS") else {
                    throw .wrongOperand(opcode: "SETITEMS", expected: "a dict", found: try top("SETITEMS").kind, offset: opStart)
                }
                try setItems(b, items)
            case 0x90: // ADDITEMS
                let items = try popToMark("ADDITEMS")
                guard case let .set(b) = try top("ADDITEMS") else {
                    throw .wrongOperand(opcode: "ADDITEMS", expected: "a set", found: try top("ADDITEMS").kind, offset: opStart)
                }
                try arena.grow(&b.items, by: items.count, unit: PickleMachine.Cost.item)
                try arena.noteChildren(of: b, items, isNew: false)
                b.items += items

            // Memo
            case 0x94: // MEMOIZE
                try put(UInt64(memoCount), "MEMOIZE")
            case 0x71: try put(UInt64(try byte()), "BINPUT")
            case 0x72: try put(UInt64(try fixed(UInt32.self)), "LONG_BINPUT")
            case 0x70:
                guard let i = UInt64(ascii(try line("PUT"))) else { throw .badText(opcode: "PUT", offset: opStart) }
                try put(i, "PUT")
            case 0x68: try get(UInt64(try byte()))
            case 0x6A: try get(UInt64(try fixed(UInt32.self)))
            case 0x67:
                guard let i = UInt64(ascii(try line("GET"))) else { throw .badText(opcode: "GET", offset: opStart) }
                try get(i)

            // Globals and calls: symbolic only.
            case 0x63: // GLOBAL
                let module = ascii(try line("GLOBAL")), name = ascii(try line("GLOBAL"))
                try arena.charge(PickleMachine.Cost.global)
                try push(.global(try TorchGlobal.resolve(module: module, name: name)))
            case 0x93: // STACK_GLOBAL
                let n = try pop("STACK_GLOBAL"), m = try pop("STACK_GLOBAL")
                guard let module = m.stringValue, let name = n.stringValue else {
                    throw .wrongOperand(opcode: "STACK_GLOBAL", expected: "two strings", found: "\(m.kind) and \(n.kind)", offset: opStart)
                }
                try arena.charge(PickleMachine.Cost.global + module.utf8.count + name.utf8.count)
                try push(.global(try TorchGlobal.resolve(module: module, name: name)))
            case 0x52: // REDUCE
                let args = try pop("REDUCE"), callable = try pop("REDUCE")
                try push(try TorchCalls(arena: arena).call(callable, args))
            case 0x81: // NEWOBJ: cls.__new__(cls, *args)
                let args = try pop("NEWOBJ"), cls = try pop("NEWOBJ")
                try push(try TorchCalls(arena: arena).new(cls, args))
            case 0x62: // BUILD: object state. Tensors and OrderedDicts keep attributes we ignore.
                let state = try pop("BUILD")
                let obj = try top("BUILD")
                switch obj {
                case .tensor: break
                case let .dict(b) where b.isOrderedDict: break
                default:
                    throw .wrongOperand(opcode: "BUILD", expected: "a tensor or OrderedDict", found: "\(obj.kind) (state \(state.kind))", offset: opStart)
                }
            case 0x51: // BINPERSID
                let pid = try pop("BINPERSID")
                try arena.charge(PickleMachine.Cost.storage)
                try push(.storage(try storageRef(pid)))
            case 0x50: // PERSID: a text id; torch's ids are tuples, which this opcode cannot carry.
                let t = ascii(try line("PERSID"))
                throw .badPersistentID(reason: "a text persistent id '\(t.prefix(40))', torch writes only tuples")

            case 0x82, 0x83, 0x84: throw .unsupportedOpcode("EXT", offset: opStart)
            case 0x69: // INST: name the class like a global, then refuse the opcode
                let module = ascii(try line("INST")), name = ascii(try line("INST"))
                _ = try TorchGlobal.resolve(module: module, name: name)
                throw .unsupportedOpcode("INST", offset: opStart)
            case 0x6F: throw .unsupportedOpcode("OBJ", offset: opStart)
            case 0x92: throw .unsupportedOpcode("NEWOBJ_EX", offset: opStart)
            case 0x97: throw .unsupportedOpcode("NEXT_BUFFER", offset: opStart)
            case 0x98: throw .unsupportedOpcode("READONLY_BUFFER", offset: opStart)
            default:
                throw .unknownOpcode(op, offset: opStart)
            }
        }
    }

    mutating func appendItems(_ items: [PickleValue], _ opcode: String) throws(PickleError) {
        guard case let .list(b) = try top(opcode) else {
            throw .wrongOperand(opcode: opcode, expected: "a list", found: try top(opcode).kind, offset: opStart)
        }
        try arena.grow(&b.items, by: items.count, unit: PickleMachine.Cost.item)
        try arena.noteChildren(of: b, items, isNew: false)
        b.items += items
    }

    /// Adds key/value pairs to a dict; `isNew` when the dict was made for them (DICT).
    mutating func setItems(_ b: PickleBox, _ items: [PickleValue], isNew: Bool = false) throws(PickleError) {
        try arena.grow(&b.entries, by: items.count / 2, unit: PickleMachine.Cost.entry)
        try arena.noteChildren(of: b, items, isNew: isNew)
        var i = 0
        while i + 1 < items.count {
            b.entries.append((items[i], items[i + 1]))
            i += 2
        }
    }

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
                else { throw .badText(opcode: "UNICODE", offset: opStart) }
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
            throw .badText(opcode: "STRING", offset: opStart)
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
                        throw .badText(opcode: "STRING", offset: opStart)
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

/// What REDUCE and NEWOBJ mean for each allowlisted global, as descriptions, never calls.
private struct TorchCalls {
    let arena: PickleMachine.Arena

    /// The integers of a tuple, copied (and charged: a memoized tuple can be used many times).
    func ints(_ v: PickleValue, _ f: TorchGlobal, _ what: String) throws(PickleError) -> [Int] {
        guard let items = v.sequence else { throw .badCall(function: f.qualifiedName, reason: "\(what) must be a tuple, found \(v.kind)") }
        try arena.charge(items.count * 8)
        var out: [Int] = []
        out.reserveCapacity(items.count)
        for x in items {
            guard case let .int(i) = x else { throw .badCall(function: f.qualifiedName, reason: "\(what) must hold integers, found \(x.kind)") }
            out.append(i)
        }
        return out
    }

    func call(_ callable: PickleValue, _ argsValue: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .global(f) = callable else { throw .notCallable(callable.kind) }
        guard let args = argsValue.sequence else { throw .badCall(function: f.qualifiedName, reason: "arguments must be a tuple, found \(argsValue.kind)") }
        return try apply(f, args, nestedOK: true)
    }

    func apply(_ f: TorchGlobal, _ args: [PickleValue], nestedOK: Bool) throws(PickleError) -> PickleValue {
        func need(_ counts: ClosedRange<Int>) throws(PickleError) {
            guard counts.contains(args.count) else {
                throw .badCall(function: f.qualifiedName, reason: "takes \(counts.lowerBound == counts.upperBound ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)") arguments, got \(args.count)")
            }
        }
        switch f {
        case .orderedDict:
            try need(0 ... 1)
            let b = try arena.make()
            b.isOrderedDict = true
            if args.count == 1 {
                guard let pairs = args[0].sequence else { throw .badCall(function: f.qualifiedName, reason: "expects a sequence of pairs") }
                try arena.grow(&b.entries, by: pairs.count, unit: PickleMachine.Cost.entry)
                for p in pairs {
                    guard let kv = p.sequence, kv.count == 2 else { throw .badCall(function: f.qualifiedName, reason: "expects a sequence of pairs") }
                    try arena.noteChildren(of: b, kv, isNew: true)
                    b.entries.append((kv[0], kv[1]))
                }
            }
            return .dict(b)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3:
            let isV3 = f == .rebuildTensorV3
            try need(isV3 ? 7 ... 8 : f == .rebuildTensor ? 4 ... 4 : 6 ... 7)
            guard case let .storage(s) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a storage, found \(args[0].kind)") }
            guard let offset = args[1].intValue else { throw .badCall(function: f.qualifiedName, reason: "the storage offset must be an integer") }
            let size = try ints(args[2], f, "the size")
            let stride = try ints(args[3], f, "the stride")
            try arena.charge(PickleMachine.Cost.tensor)
            let scalar: TorchScalarType
            if isV3 {
                guard case let .global(.dtype(t)) = args[6] else { throw .badCall(function: f.qualifiedName, reason: "argument 7 must be a torch dtype, found \(args[6].kind)") }
                scalar = t
            } else {
                guard case let .typed(t) = s.type else {
                    throw .badCall(function: f.qualifiedName, reason: "an untyped storage needs an explicit dtype (_rebuild_tensor_v3)")
                }
                scalar = t
            }
            return .tensor(TensorValue(storage: s, scalarType: scalar, storageOffset: offset, size: size, stride: stride))
        case .rebuildParameter, .rebuildParameterWithState:
            try need(f == .rebuildParameter ? 3 ... 3 : 4 ... 4)
            guard case .tensor = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a tensor, found \(args[0].kind)") }
            return args[0]
        case .rebuildFromTypeV2:
            try need(4 ... 4)
            guard nestedOK, case let .global(inner) = args[0],
                  [.rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState, .rebuildMetaTensorNoStorage].contains(inner)
            else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a tensor rebuild function, found \(args[0].kind)") }
            guard case .global(.tensorClass) = args[1] else {
                throw .badCall(function: f.qualifiedName, reason: "argument 2 must be torch.Tensor or Parameter, found \(args[1].kind)")
            }
            guard let innerArgs = args[2].sequence else { throw .badCall(function: f.qualifiedName, reason: "argument 3 must be a tuple") }
            return try apply(inner, innerArgs, nestedOK: false)
        case .rebuildMetaTensorNoStorage:
            try need(4 ... 5)
            guard case let .global(.dtype(t)) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a torch dtype") }
            let size = try ints(args[1], f, "the size")
            let stride = try ints(args[2], f, "the stride")
            try arena.charge(PickleMachine.Cost.tensor)
            return .tensor(TensorValue(storage: nil, scalarType: t, storageOffset: 0, size: size, stride: stride))
        case .size:
            try need(0 ... 1)
            if args.isEmpty { return .tuple(arena.emptyTuple) }
            let dims = try ints(args[0], f, "the size")
            return dims.isEmpty ? .tuple(arena.emptyTuple) : .tuple(try arena.make(dims.map { .int($0) }))
        case .device:
            try need(1 ... 2)
            guard let type = args[0].stringValue else { throw .badCall(function: f.qualifiedName, reason: "argument 1 must be a string") }
            try arena.charge(PickleMachine.Cost.global + type.utf8.count)
            if args.count == 2, let i = args[1].intValue { return .device("\(type):\(i)") }
            return .device(type)
        case .set:
            try need(0 ... 1)
            if args.isEmpty { return .set(try arena.make()) }
            guard let items = args[0].sequence ?? setItems(args[0]) else {
                throw .badCall(function: f.qualifiedName, reason: "expects a list, found \(args[0].kind)")
            }
            return .set(try arena.make(items))
        case .codecsEncode:
            try need(1 ... 2)
            return .bytes(try encode(f, args))
        case .bytearray:
            try need(0 ... 2)
            if args.isEmpty { return .bytes([]) }
            if args.count == 1, case let .bytes(b) = args[0] { return .bytes(b) }
            return .bytes(try encode(f, args))
        case .complex:
            try need(1 ... 2)
            func real(_ v: PickleValue) -> Double? {
                switch v {
                case let .float(d): d
                case let .int(i): Double(i)
                default: nil
                }
            }
            guard let re = real(args[0]), let im = args.count == 2 ? real(args[1]) : 0 else {
                throw .badCall(function: f.qualifiedName, reason: "expects numbers")
            }
            return .complex(re, im)
        case .storageClass, .dtype, .tensorClass:
            throw .notCallable("'\(f.qualifiedName)'")
        }
    }

    func setItems(_ v: PickleValue) -> [PickleValue]? { if case let .set(b) = v { b.items } else { nil } }

    /// `_codecs.encode(text, encoding)`: protocol 2's spelling of a bytes object.
    func encode(_ f: TorchGlobal, _ args: [PickleValue]) throws(PickleError) -> [UInt8] {
        guard case let .string(text) = args[0] else { throw .badCall(function: f.qualifiedName, reason: "expects a string, found \(args[0].kind)") }
        // Encoding names are short; a long one is not worth copying to compare.
        let encoding = args.count == 2 ? args[1].stringValue.flatMap { $0.utf8.count <= 16 ? $0.lowercased() : nil } : "utf-8"
        try arena.charge(text.utf8.count)
        switch encoding {
        case "latin1", "latin-1", "iso-8859-1":
            var out: [UInt8] = []
            out.reserveCapacity(text.unicodeScalars.count)
            for u in text.unicodeScalars {
                guard u.value <= 0xFF else { throw .badCall(function: f.qualifiedName, reason: "a character beyond Latin-1") }
                out.append(UInt8(u.value))
            }
            return out
        case "utf-8", "utf8": return Array(text.utf8)
        default: throw .badCall(function: f.qualifiedName, reason: "unsupported encoding \(encoding ?? "?")")
        }
    }

    func new(_ cls: PickleValue, _ argsValue: PickleValue) throws(PickleError) -> PickleValue {
        guard case let .global(f) = cls else { throw .notCallable(cls.kind) }
        guard let args = argsValue.sequence else { throw .badCall(function: f.qualifiedName, reason: "arguments must be a tuple") }
        switch f {
        case .orderedDict, .size, .set: return try apply(f, args, nestedOK: false)
        default: throw .notCallable("'\(f.qualifiedName)' through NEWOBJ")
        }
    }
}
