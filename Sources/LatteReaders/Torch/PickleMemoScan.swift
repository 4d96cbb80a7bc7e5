/// Which memo entries a pickle ever reads back, found by one pass over its opcodes before
/// it runs.
///
/// Picklers memoize every container they write, torch's included, and the memo keeps them
/// alive to the end: the argument tuples of each tensor, its storage id, its size and
/// stride. Almost none is read again. Storing `None` in place of an entry no GET reads
/// changes nothing the pickle can observe, and lets those containers go as soon as REDUCE
/// has used them, so memory follows what the object really holds.
///
/// The pass reads only opcodes and argument lengths. When it cannot reach STOP (an opcode
/// it does not know, a truncated argument), it keeps every entry: the machine then fails
/// or succeeds exactly as it would have, only without the saving.
struct PickleMemoScan {
    /// One bit per memo index below `maxIndex` that a GET reads; nil: keep every entry.
    private var read: [UInt64]?

    /// Scans `input` up to its first STOP. Indices at or beyond `maxIndex` are ignored
    /// (the machine refuses them); the bit set never exceeds `maxIndex` bits.
    init(_ input: UnsafeRawBufferPointer, maxIndex: Int) {
        read = Self.scan(input, maxIndex: maxIndex)
    }

    /// False only when no GET reads entry `i`.
    func isRead(_ i: Int) -> Bool {
        guard let read else { return true }
        let word = i >> 6
        return word < read.count && read[word] & (1 << UInt64(i & 63)) != 0
    }

    private static func scan(_ b: UnsafeRawBufferPointer, maxIndex: Int) -> [UInt64]? {
        var bits: [UInt64] = []
        var pos = 0
        func mark(_ i: UInt64) {
            guard i < UInt64(maxIndex) else { return }
            let word = Int(i >> 6)
            if word >= bits.count { bits += [UInt64](repeating: 0, count: word + 1 - bits.count) }
            bits[word] |= 1 << (i & 63)
        }
        func uint(_ n: Int) -> UInt64? {
            guard n <= b.count - pos else { return nil }
            var v: UInt64 = 0
            for k in 0 ..< n { v |= UInt64(b[pos + k]) << (8 * UInt64(k)) }
            pos += n
            return v
        }
        /// Skips `n` bytes; false when they are not there.
        func skip(_ n: UInt64) -> Bool {
            guard n <= UInt64(b.count - pos) else { return false }
            pos += Int(n)
            return true
        }
        /// Skips a newline-terminated argument, returning it.
        func line() -> UnsafeRawBufferPointer? {
            var end = pos
            while end < b.count, b[end] != 0x0A { end += 1 }
            guard end < b.count else { return nil }
            defer { pos = end + 1 }
            return UnsafeRawBufferPointer(rebasing: b[pos ..< end])
        }
        while pos < b.count {
            guard let op = PickleMachine.Opcode(rawValue: b[pos]) else { return nil }
            pos += 1
            switch op {
            case .STOP: return bits
            case .MARK, .EMPTY_TUPLE, .POP, .POP_MARK, .DUP, .NONE, .REDUCE, .BINPERSID, .EMPTY_LIST, .APPEND, .BUILD, .DICT,
                 .APPENDS, .LIST, .SETITEM, .TUPLE, .SETITEMS, .EMPTY_DICT, .NEWOBJ, .TUPLE1, .TUPLE2, .TUPLE3, .NEWTRUE,
                 .NEWFALSE, .EMPTY_SET, .ADDITEMS, .FROZENSET, .NEWOBJ_EX, .STACK_GLOBAL, .MEMOIZE, .NEXT_BUFFER,
                 .READONLY_BUFFER, .OBJ:
                continue
            // Fixed-width arguments.
            case .PROTO, .BININT1, .BINPUT, .EXT1: guard skip(1) else { return nil }
            case .BININT2, .EXT2: guard skip(2) else { return nil }
            case .BININT, .LONG_BINPUT, .EXT4: guard skip(4) else { return nil }
            case .BINFLOAT, .FRAME: guard skip(8) else { return nil }
            case .BINGET: guard let i = uint(1) else { return nil }; mark(i)
            case .LONG_BINGET: guard let i = uint(4) else { return nil }; mark(i)
            // Length-prefixed arguments.
            case .LONG1, .SHORT_BINUNICODE, .SHORT_BINSTRING, .SHORT_BINBYTES:
                guard let n = uint(1), skip(n) else { return nil }
            case .LONG4, .BINUNICODE, .BINSTRING, .BINBYTES:
                guard let n = uint(4), skip(n) else { return nil }
            case .BINUNICODE8, .BINBYTES8, .BYTEARRAY8:
                guard let n = uint(8), skip(n) else { return nil }
            // Text arguments.
            case .INT, .LONG, .FLOAT, .STRING, .UNICODE, .PERSID, .PUT:
                guard line() != nil else { return nil }
            case .GLOBAL, .INST:
                guard line() != nil, line() != nil else { return nil }
            case .GET:
                guard let t = line(), let i = UInt64(String(decoding: t, as: UTF8.self)) else { return nil }
                mark(i)
            }
        }
        return nil
    }
}
