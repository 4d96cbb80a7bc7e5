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
            let op = b[pos]
            pos += 1
            switch op {
            case 0x2E: return bits // STOP
            // No argument.
            case 0x28, 0x29, 0x30, 0x31, 0x32, 0x4E, 0x52, 0x51, 0x5D, 0x61, 0x62, 0x64, 0x65, 0x6C, 0x73, 0x74, 0x75,
                 0x7D, 0x81, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8F, 0x90, 0x91, 0x92, 0x93, 0x94, 0x97, 0x98, 0x6F:
                continue
            // Fixed-width arguments.
            case 0x80, 0x4B, 0x71, 0x82: guard skip(1) else { return nil } // PROTO BININT1 BINPUT EXT1
            case 0x4D, 0x83: guard skip(2) else { return nil } // BININT2 EXT2
            case 0x4A, 0x72, 0x84: guard skip(4) else { return nil } // BININT LONG_BINPUT EXT4
            case 0x47, 0x95: guard skip(8) else { return nil } // BINFLOAT FRAME
            case 0x68: guard let i = uint(1) else { return nil }; mark(i) // BINGET
            case 0x6A: guard let i = uint(4) else { return nil }; mark(i) // LONG_BINGET
            // Length-prefixed arguments.
            case 0x8A, 0x8C, 0x55, 0x43: // LONG1 SHORT_BINUNICODE SHORT_BINSTRING SHORT_BINBYTES
                guard let n = uint(1), skip(n) else { return nil }
            case 0x8B, 0x58, 0x54, 0x42: // LONG4 BINUNICODE BINSTRING BINBYTES
                guard let n = uint(4), skip(n) else { return nil }
            case 0x8D, 0x8E, 0x96: // BINUNICODE8 BINBYTES8 BYTEARRAY8
                guard let n = uint(8), skip(n) else { return nil }
            // Text arguments.
            case 0x49, 0x4C, 0x46, 0x53, 0x56, 0x50, 0x70: // INT LONG FLOAT STRING UNICODE PERSID PUT
                guard line() != nil else { return nil }
            case 0x63, 0x69: // GLOBAL INST
                guard line() != nil, line() != nil else { return nil }
            case 0x67: // GET
                guard let t = line(), let i = UInt64(String(decoding: t, as: UTF8.self)) else { return nil }
                mark(i)
            default:
                return nil
            }
        }
        return nil
    }
}
