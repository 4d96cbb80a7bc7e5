/// What each opcode does. `execute` reads one opcode at a time and hands it to `step`; the
/// handlers form a chain by family (framing and the stack, numbers, text, containers, the
/// memo, globals and calls), each passing the opcodes it does not handle to the next, and
/// the last refusing what is left.
extension PickleRun {
    /// Runs the pickle up to its STOP opcode and returns the one value left on the stack.
    mutating func execute() throws(PickleError) -> PickleValue {
        var ops = 0
        while true {
            ops += 1
            guard ops <= limits.maxOpcodes else { throw .tooManyOpcodes(limit: limits.maxOpcodes) }
            opStart = pos
            arena.inputBytes = pos
            let code = try byte()
            guard let op = Opcode(rawValue: code) else { throw .unknownOpcode(code, offset: opStart) }
            if let value = try step(op) { return value }
        }
    }

    /// Framing and the stack; the pickle's value at STOP, nil otherwise.
    mutating func step(_ op: Opcode) throws(PickleError) -> PickleValue? {
        switch op {
        case .STOP:
            guard marks.isEmpty, stack.count == 1, let v = stack.popLast() else {
                throw .wrongOperand(opcode: op.name, expected: "exactly one value on the stack", found: "\(stack.count)", offset: opStart)
            }
            return v
        case .PROTO:
            let v = try byte()
            guard v <= 5 else { throw .unsupportedProtocol(Int(v)) }
        case .FRAME: // Framing is only a buffering hint, but its length must be real.
            let n = try fixed(UInt64.self)
            guard n <= UInt64(remaining) else {
                throw .lengthExceedsInput(opcode: op.name, declared: n, remaining: remaining, offset: opStart)
            }
        case .MARK:
            guard marks.count < limits.maxStackDepth else { throw .stackTooDeep(limit: limits.maxStackDepth) }
            marks.append(stack.count)
        case .POP:
            if stack.count == (marks.last ?? 0), !marks.isEmpty { marks.removeLast() } else { _ = try pop(op) }
        case .POP_MARK: _ = try popToMark(op)
        case .DUP: try push(try top(op))
        default: try number(op)
        }
        return nil
    }

    /// Constants and numbers.
    mutating func number(_ op: Opcode) throws(PickleError) {
        switch op {
        case .NONE: try push(.none)
        case .NEWTRUE: try push(.bool(true))
        case .NEWFALSE: try push(.bool(false))
        case .BININT: try push(.int(Int(try fixed(Int32.self))))
        case .BININT1: try push(.int(Int(try byte())))
        case .BININT2: try push(.int(Int(try fixed(UInt16.self))))
        case .INT: // Decimal text; "01"/"00" are protocol 0's True/False.
            let t = ascii(try line())
            if t == "01" { try push(.bool(true)) } else if t == "00" { try push(.bool(false)) } else {
                guard let i = Int(t) else { throw .badText(opcode: op.name, offset: opStart) }
                try push(.int(i))
            }
        case .LONG: // Decimal text with an optional trailing L.
            var t = ascii(try line())
            if t.hasSuffix("L") { t.removeLast() }
            guard let i = Int(t) else { throw .badText(opcode: op.name, offset: opStart) }
            try push(.int(i))
        case .LONG1:
            let n = try byte()
            try push(try long(try take(UInt64(n), op)))
        case .LONG4:
            let n = try fixed(Int32.self)
            guard n >= 0 else { throw .badText(opcode: op.name, offset: opStart) }
            try push(try long(try take(UInt64(n), op)))
        case .BINFLOAT: // A big-endian IEEE double.
            let bits = try fixed(UInt64.self)
            try push(.float(Double(bitPattern: bits.byteSwapped)))
        case .FLOAT:
            guard let d = Double(ascii(try line())) else { throw .badText(opcode: op.name, offset: opStart) }
            try push(.float(d))
        default: try text(op)
        }
    }

    /// Strings and bytes.
    mutating func text(_ op: Opcode) throws(PickleError) {
        switch op {
        case .BINUNICODE: try push(.string(try utf8(try take(UInt64(try fixed(UInt32.self)), op), op)))
        case .SHORT_BINUNICODE: try push(.string(try utf8(try take(UInt64(try byte()), op), op)))
        case .BINUNICODE8: try push(.string(try utf8(try take(try fixed(UInt64.self), op), op)))
        case .UNICODE: try push(.string(try rawUnicodeEscape(try line())))
        case .BINSTRING: // A Python 2 str, read as text as torch.load does (encoding utf-8).
            let n = try fixed(Int32.self)
            guard n >= 0 else { throw .badText(opcode: op.name, offset: opStart) }
            try push(.string(try utf8(try take(UInt64(n), op), op)))
        case .SHORT_BINSTRING: try push(.string(try utf8(try take(UInt64(try byte()), op), op)))
        case .STRING: try push(.string(try quotedString(try line())))
        case .BINBYTES: try push(.bytes(Array(try take(UInt64(try fixed(UInt32.self)), op))))
        case .SHORT_BINBYTES: try push(.bytes(Array(try take(UInt64(try byte()), op))))
        case .BINBYTES8, .BYTEARRAY8: try push(.bytes(Array(try take(try fixed(UInt64.self), op))))
        default: try container(op)
        }
    }

    /// Lists, tuples, dicts and sets: made, and filled.
    mutating func container(_ op: Opcode) throws(PickleError) {
        switch op {
        case .EMPTY_LIST: try push(.list(try box([])))
        case .EMPTY_DICT: try push(.dict(try box([])))
        case .EMPTY_TUPLE: try push(emptyTuple())
        case .EMPTY_SET: try push(.set(try box([])))
        case .TUPLE1:
            let a = try pop(op)
            try push(.tuple(try box([a])))
        case .TUPLE2:
            let b = try pop(op), a = try pop(op)
            try push(.tuple(try box([a, b])))
        case .TUPLE3:
            let c = try pop(op), b = try pop(op), a = try pop(op)
            try push(.tuple(try box([a, b, c])))
        case .TUPLE:
            let items = try popToMark(op)
            try push(items.isEmpty ? emptyTuple() : .tuple(try box(items)))
        case .LIST: try push(.list(try box(try popToMark(op))))
        case .FROZENSET: try push(.set(try box(try popToMark(op))))
        case .DICT:
            let items = try pairs(try popToMark(op), op)
            let b = try box([])
            try setItems(b, items, isNew: true)
            try push(.dict(b))
        case .APPEND:
            let v = try pop(op)
            try appendItems([v], op)
        case .APPENDS: try appendItems(try popToMark(op), op)
        case .SETITEM:
            let v = try pop(op), k = try pop(op)
            try setItems(try dictOnTop(op), [k, v])
        case .SETITEMS:
            let items = try pairs(try popToMark(op), op)
            try setItems(try dictOnTop(op), items)
        case .ADDITEMS:
            let items = try popToMark(op)
            guard case let .set(b) = try top(op) else {
                throw .wrongOperand(opcode: op.name, expected: "a set", found: try top(op).kind, offset: opStart)
            }
            try arena.grow(&b.items, by: items.count, unit: PickleMachine.Cost.item)
            try arena.noteChildren(of: b, items, isNew: false)
            b.items += items
        default: try memo(op)
        }
    }

    /// Storing and reading memo entries.
    mutating func memo(_ op: Opcode) throws(PickleError) {
        switch op {
        case .MEMOIZE: try put(UInt64(memoCount), op)
        case .BINPUT: try put(UInt64(try byte()), op)
        case .LONG_BINPUT: try put(UInt64(try fixed(UInt32.self)), op)
        case .PUT:
            guard let i = UInt64(ascii(try line())) else { throw .badText(opcode: op.name, offset: opStart) }
            try put(i, op)
        case .BINGET: try get(UInt64(try byte()))
        case .LONG_BINGET: try get(UInt64(try fixed(UInt32.self)))
        case .GET:
            guard let i = UInt64(ascii(try line())) else { throw .badText(opcode: op.name, offset: opStart) }
            try get(i)
        default: try object(op)
        }
    }

    /// Globals, calls, object state and persistent ids: symbolic only.
    mutating func object(_ op: Opcode) throws(PickleError) {
        switch op {
        case .GLOBAL:
            let module = ascii(try line()), name = ascii(try line())
            try arena.charge(PickleMachine.Cost.global)
            try push(.global(try TorchGlobal.resolve(module: module, name: name)))
        case .STACK_GLOBAL:
            let n = try pop(op), m = try pop(op)
            guard let module = m.stringValue, let name = n.stringValue else {
                throw .wrongOperand(opcode: op.name, expected: "two strings", found: "\(m.kind) and \(n.kind)", offset: opStart)
            }
            try arena.charge(PickleMachine.Cost.global + module.utf8.count + name.utf8.count)
            try push(.global(try TorchGlobal.resolve(module: module, name: name)))
        case .REDUCE:
            let args = try pop(op), callable = try pop(op)
            try push(try TorchCalls(arena: arena).call(callable, args))
        case .NEWOBJ: // cls.__new__(cls, *args)
            let args = try pop(op), cls = try pop(op)
            try push(try TorchCalls(arena: arena).new(cls, args))
        case .BUILD: // Object state: tensors and OrderedDicts keep attributes we ignore.
            let state = try pop(op)
            let obj = try top(op)
            switch obj {
            case .tensor: break
            case let .dict(b) where b.isOrderedDict: break
            default:
                throw .wrongOperand(opcode: op.name, expected: "a tensor or OrderedDict", found: "\(obj.kind) (state \(state.kind))", offset: opStart)
            }
        case .BINPERSID:
            let pid = try pop(op)
            try arena.charge(PickleMachine.Cost.storage)
            try push(.storage(try storageRef(pid)))
        case .PERSID: // A text id; torch's ids are tuples, which this opcode cannot carry.
            let t = ascii(try line())
            throw .badPersistentID(reason: "a text persistent id '\(t.prefix(40))', torch writes only tuples")
        default: try refuse(op)
        }
    }

    /// The opcodes no tensor file needs: extension codes, INST and OBJ, NEWOBJ_EX, out-of-band buffers.
    mutating func refuse(_ op: Opcode) throws(PickleError) {
        switch op {
        case .EXT1, .EXT2, .EXT4: throw .unsupportedOpcode("EXT", offset: opStart)
        case .INST: // Name the class like a global, then refuse the opcode.
            let module = ascii(try line()), name = ascii(try line())
            _ = try TorchGlobal.resolve(module: module, name: name)
            throw .unsupportedOpcode(op.name, offset: opStart)
        default: throw .unsupportedOpcode(op.name, offset: opStart)
        }
    }

    // MARK: filling containers

    /// `items` as key/value pairs: an even count.
    func pairs(_ items: [PickleValue], _ op: Opcode) throws(PickleError) -> [PickleValue] {
        guard items.count % 2 == 0 else {
            throw .wrongOperand(opcode: op.name, expected: "key/value pairs", found: "\(items.count) values", offset: opStart)
        }
        return items
    }

    /// The dict SETITEM and SETITEMS add to.
    func dictOnTop(_ op: Opcode) throws(PickleError) -> PickleBox {
        guard case let .dict(b) = try top(op) else {
            throw .wrongOperand(opcode: op.name, expected: "a dict", found: try top(op).kind, offset: opStart)
        }
        return b
    }

    mutating func appendItems(_ items: [PickleValue], _ op: Opcode) throws(PickleError) {
        guard case let .list(b) = try top(op) else {
            throw .wrongOperand(opcode: op.name, expected: "a list", found: try top(op).kind, offset: opStart)
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
}
