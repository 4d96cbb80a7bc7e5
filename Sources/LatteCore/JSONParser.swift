import LatteSystem

/// A strict RFC 8259 parser writing a `JSONTape`.
///
/// One pass over the text, no recursion (an explicit stack of at most `JSON.maxDepth`
/// containers), no allocation per value: the only heap memory is the tape (8 bytes per
/// value and key, grown by `realloc`, which large blocks move with `mremap` instead of
/// copying) and, for objects of more than `smallObject` members, a reused hash table of
/// 8 bytes per slot for the duplicate-key check.
///
/// Refused: anything outside the grammar (comments, trailing commas, single quotes,
/// `NaN`, leading zeros, `+1`, `.5`, raw control characters in strings), numbers past the
/// double range, invalid UTF-8
/// (overlong forms, encoded surrogates, scalars past U+10FFFF), unpaired `\u` surrogate
/// escapes, repeated keys in one object (compared after decoding escapes), nesting deeper
/// than `JSON.maxDepth`, and content after the value. `\u0000` is a valid character and
/// decodes to a NUL byte; it is the reader's business to refuse it in names.
struct JSONParser {
    private let p: UnsafePointer<UInt8>
    private let n: Int
    private var tape: UnsafeMutablePointer<UInt64>
    private var capacity: Int
    private var count = 0
    /// Open containers: (tape index, children so far).
    private var stack: [(index: Int, children: Int)] = []
    /// Slots of the duplicate-key table: (key hash << 32) | (tape index + 1); 0 is empty.
    private var slots: [UInt64] = []
    /// Tape indices of a small object's keys, during its check.
    private var keyIndices: [Int] = []
    /// Seeds the key hash per parse (drawn at the first large object), so no crafted set
    /// of keys collides in every run.
    private var seed: UInt64 = 0

    /// Objects with at most this many members are checked for repeated keys pairwise, which
    /// beats hashing for the small objects that make up almost every document.
    private static let smallObject = 12

    /// Parses `text` into a tape that the caller must `free`. `text` must stay valid only
    /// during the call; the tape refers to it by offset.
    static func parse(_ text: UnsafeRawBufferPointer) throws(JSONError) -> (tape: UnsafeMutablePointer<UInt64>, count: Int) {
        guard text.count <= JSON.maxTextSize else { throw .tooLarge(size: text.count, limit: JSON.maxTextSize) }
        guard let base = text.baseAddress, text.count > 0 else { throw .truncated }
        var parser = JSONParser(p: base.assumingMemoryBound(to: UInt8.self), n: text.count)
        do {
            try parser.run()
        } catch {
            free(parser.tape)
            // A text that is not UTF-8 is reported as such wherever the first problem lies,
            // so the error does not depend on which rule the scan happened to meet first.
            if case .invalidUTF8 = error { throw error }
            if !isValidUTF8(text) { throw .invalidUTF8 }
            throw error
        }
        return (parser.tape, parser.count)
    }

    private init(p: UnsafePointer<UInt8>, n: Int) {
        self.p = p
        self.n = n
        // One entry per 4 bytes of text: headers and manifests need one per 7.5, so the tape
        // is never moved for them (only touched pages cost memory); the densest text, "[0,0,...",
        // needs one per 2 and grows once, by realloc (mremap for a block this large).
        capacity = max(16, n / 4 + 1)
        tape = malloc(capacity * MemoryLayout<UInt64>.stride)!.assumingMemoryBound(to: UInt64.self)
        stack.reserveCapacity(JSON.maxDepth)
        keyIndices.reserveCapacity(Self.smallObject)
    }

    @inline(__always) private mutating func append(_ w: UInt64) {
        if count == capacity {
            capacity *= 2
            guard let grown = realloc(tape, capacity * MemoryLayout<UInt64>.stride) else { fatalError("out of memory growing a JSON tape") }
            tape = grown.assumingMemoryBound(to: UInt64.self)
        }
        tape[count] = w
        count += 1
    }

    @inline(__always) private func isSpace(_ c: UInt8) -> Bool {
        c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09
    }

    @inline(__always) private func skipSpace(_ i: inout Int) {
        while i < n, isSpace(p[i]) { i += 1 }
    }

    private func describe(_ c: UInt8) -> String {
        c >= 0x21 && c < 0x7F ? "'\(Character(Unicode.Scalar(c)))'" : "byte 0x\(String(c, radix: 16, uppercase: true))"
    }

    private mutating func run() throws(JSONError) {
        var i = 0
        skipSpace(&i)
        try value(&i)
        while true {
            guard let top = stack.last else { break }
            let isObject = JSONTape.kind(tape[top.index]) == .object
            skipSpace(&i)
            guard i < n else { throw .truncated }
            let c = p[i]
            if c == UInt8(ascii: ",") {
                i += 1
                skipSpace(&i)
                if isObject { try key(&i) }
                try value(&i)
            } else if c == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                i += 1
                try close()
            } else {
                throw .syntax(isObject ? "expected ',' or '}' after a member, found \(describe(c))" : "expected ',' or ']' after an element, found \(describe(c))", offset: i)
            }
        }
        skipSpace(&i)
        if i < n { throw .trailingContent(offset: i) }
    }

    /// Reads one member name and its colon; `i` is at the opening quote.
    private mutating func key(_ i: inout Int) throws(JSONError) {
        guard i < n else { throw .truncated }
        guard p[i] == UInt8(ascii: "\"") else { throw .syntax("expected a string key, found \(describe(p[i]))", offset: i) }
        try string(&i)
        skipSpace(&i)
        guard i < n else { throw .truncated }
        guard p[i] == UInt8(ascii: ":") else { throw .syntax("expected ':' after a key, found \(describe(p[i]))", offset: i) }
        i += 1
        skipSpace(&i)
    }

    /// Reads one value starting at `i` (spaces already skipped). A container is opened and
    /// left on the stack; `run` reads its children.
    private mutating func value(_ i: inout Int) throws(JSONError) {
        guard i < n else { throw .truncated }
        if !stack.isEmpty { stack[stack.count - 1].children += 1 }
        let c = p[i]
        switch c {
        case UInt8(ascii: "\""): try string(&i)
        case UInt8(ascii: "-"), UInt8(ascii: "0") ... UInt8(ascii: "9"): try number(&i)
        case UInt8(ascii: "t"): try literal(&i, "true", .true)
        case UInt8(ascii: "f"): try literal(&i, "false", .false)
        case UInt8(ascii: "n"): try literal(&i, "null", .null)
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            guard stack.count < JSON.maxDepth else { throw .tooDeep(limit: JSON.maxDepth) }
            let isObject = c == UInt8(ascii: "{")
            stack.append((count, 0))
            append(JSONTape.word(isObject ? .object : .array))
            i += 1
            skipSpace(&i)
            guard i < n else { throw .truncated }
            if p[i] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                i += 1
                try close()
            } else if isObject {
                try key(&i)
                try value(&i)
            } else {
                try value(&i)
            }
        default:
            throw .syntax("expected a value, found \(describe(c))", offset: i)
        }
    }

    private mutating func literal(_ i: inout Int, _ word: StaticString, _ kind: JSONTape.Kind) throws(JSONError) {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        for k in 0 ..< w.count {
            guard i + k < n else { throw .truncated }
            guard p[i + k] == w[k] else { throw .syntax("expected a value, found \(describe(p[i]))", offset: i) }
        }
        if i + w.count < n, isWordByte(p[i + w.count]) { throw .syntax("expected a value, found \(describe(p[i]))", offset: i) }
        append(JSONTape.word(kind))
        i += w.count
    }

    @inline(__always) private func isWordByte(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a") ... UInt8(ascii: "z"), UInt8(ascii: "A") ... UInt8(ascii: "Z"), UInt8(ascii: "0") ... UInt8(ascii: "9"),
             UInt8(ascii: "."), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }

    @inline(__always) private func isDigit(_ c: UInt8) -> Bool { c &- UInt8(ascii: "0") < 10 }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, followed by a delimiter.
    private mutating func number(_ i: inout Int) throws(JSONError) {
        let start = i
        let bad = JSONError.syntax("invalid number", offset: start)
        var j = i
        if p[j] == UInt8(ascii: "-") { j += 1 }
        guard j < n else { throw .truncated }
        if p[j] == UInt8(ascii: "0") {
            j += 1
        } else if isDigit(p[j]) {
            while j < n, isDigit(p[j]) { j += 1 }
        } else {
            throw bad
        }
        var integer = true
        if j < n, p[j] == UInt8(ascii: ".") {
            integer = false
            j += 1
            guard j < n else { throw .truncated }
            guard isDigit(p[j]) else { throw bad }
            while j < n, isDigit(p[j]) { j += 1 }
        }
        if j < n, p[j] == UInt8(ascii: "e") || p[j] == UInt8(ascii: "E") {
            integer = false
            j += 1
            if j < n, p[j] == UInt8(ascii: "+") || p[j] == UInt8(ascii: "-") { j += 1 }
            guard j < n else { throw .truncated }
            guard isDigit(p[j]) else { throw bad }
            while j < n, isDigit(p[j]) { j += 1 }
        }
        // `01`, `1.2.3`, `1x`: the token runs on where JSON needs a delimiter.
        if j < n, isWordByte(p[j]) { throw bad }
        // A number past the double range (`1e309`, 400 digits) has no value to read back or
        // write again: refused, as serde_json (the reference safetensors parser) does. Only
        // fractions, exponents and integers too long for 64 bits can overflow; integers that
        // fit are never converted here.
        if !integer || j - start > 20 {
            let token = UnsafeBufferPointer(start: p + start, count: j - start)
            if let d = Double(String(decoding: token, as: UTF8.self)), !d.isFinite {
                throw .syntax("number out of range", offset: start)
            }
        }
        append(JSONTape.word(.number, flag: integer, a: j - start, b: start))
        i = j
    }

    /// Bytes of `x` equal to `b` (each such byte's high bit set in the result, exactly).
    @inline(__always) private static func bytesEqual(_ x: UInt64, _ b: UInt64) -> UInt64 {
        let y = x ^ (b &* 0x0101_0101_0101_0101)
        return (y &- 0x0101_0101_0101_0101) & ~y & 0x8080_8080_8080_8080
    }

    /// Reads a string; `i` is at the opening quote, and ends after the closing one.
    private mutating func string(_ i: inout Int) throws(JSONError) {
        let start = i + 1
        var j = start
        var escapes = false
        while true {
            // Eight plain ASCII bytes at a time: no quote, backslash, control or non-ASCII byte.
            while j + 8 <= n {
                let x = UnsafeRawPointer(p + j).loadUnaligned(as: UInt64.self)
                let special = Self.bytesEqual(x, 0x22) | Self.bytesEqual(x, 0x5C)
                    | ((x &- 0x2020_2020_2020_2020) & ~x & 0x8080_8080_8080_8080) | (x & 0x8080_8080_8080_8080)
                if special != 0 { break }
                j += 8
            }
            guard j < n else { throw .truncated }
            let c = p[j]
            if c == UInt8(ascii: "\"") {
                break
            } else if c == UInt8(ascii: "\\") {
                escapes = true
                j = try escape(at: j)
            } else if c < 0x20 {
                throw .syntax("control character 0x\(String(c, radix: 16, uppercase: true)) in a string (it must be escaped)", offset: j)
            } else if c < 0x80 {
                j += 1
            } else {
                j = try utf8Sequence(at: j)
            }
        }
        append(JSONTape.word(.string, flag: escapes, a: j - start, b: start))
        i = j + 1
    }

    /// Checks the escape at `j` (a backslash); returns the index after it.
    private func escape(at j: Int) throws(JSONError) -> Int {
        guard j + 1 < n else { throw .truncated }
        switch p[j + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return j + 2
        case UInt8(ascii: "u"):
            let v = try hex4(at: j + 2, escapeAt: j)
            if v >= 0xDC00, v < 0xE000 { throw .syntax("unpaired surrogate \\u\(hex(v)) (a low surrogate without a high one)", offset: j) }
            guard v >= 0xD800, v < 0xDC00 else { return j + 6 }
            // A high surrogate must be followed at once by a low one: `\uD83D\uDE00`.
            let unpaired = JSONError.syntax("unpaired surrogate \\u\(hex(v)) (a high surrogate without a low one)", offset: j)
            guard j + 6 < n else { throw .truncated }
            guard p[j + 6] == UInt8(ascii: "\\") else { throw unpaired }
            guard j + 7 < n else { throw .truncated }
            guard p[j + 7] == UInt8(ascii: "u") else { throw unpaired }
            let low = try hex4(at: j + 8, escapeAt: j + 6)
            guard low >= 0xDC00, low < 0xE000 else { throw unpaired }
            return j + 12
        default:
            throw .syntax("invalid escape \\\(describe(p[j + 1]))", offset: j)
        }
    }

    private func hex(_ v: UInt32) -> String {
        let s = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - s.count)) + s
    }

    private func hex4(at k: Int, escapeAt j: Int) throws(JSONError) -> UInt32 {
        var v: UInt32 = 0
        for m in 0 ..< 4 {
            guard k + m < n else { throw .truncated }
            guard let h = JSONStringDecoder.hexValue(p[k + m]) else { throw .syntax("\\u needs four hex digits", offset: j) }
            v = v << 4 | h
        }
        return v
    }

    /// Checks the UTF-8 sequence that starts at `j` (a byte >= 0x80) per RFC 3629: no
    /// overlong forms, no encoded surrogates, nothing past U+10FFFF. Returns the index after it.
    private func utf8Sequence(at j: Int) throws(JSONError) -> Int {
        let c = p[j]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF // allowed range of the second byte
        switch c {
        case 0xC2 ... 0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1 ... 0xEC, 0xEE, 0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1 ... 0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw .invalidUTF8
        }
        guard j + length <= n else { throw .invalidUTF8 }
        guard p[j + 1] >= low, p[j + 1] <= high else { throw .invalidUTF8 }
        for k in 2 ..< length where p[j + k] & 0xC0 != 0x80 { throw .invalidUTF8 }
        return j + length
    }

    /// Closes the innermost container: records its count and end, then checks an object's keys.
    private mutating func close() throws(JSONError) {
        let (index, children) = stack.removeLast()
        let kind = JSONTape.kind(tape[index])
        tape[index] = JSONTape.word(kind, a: children, b: count)
        if kind == .object, children > 1 { try checkKeys(object: index, members: children, depth: stack.count + 1) }
    }

    private var document: JSONDocument { JSONDocument(text: p, textCount: n, tape: tape, count: count) }

    /// Refuses a key that appears twice in the object at `index`, compared after decoding.
    private mutating func checkKeys(object index: Int, members: Int, depth: Int) throws(JSONError) {
        let doc = document
        if members <= Self.smallObject {
            keyIndices.removeAll(keepingCapacity: true)
            var j = index + 1
            for _ in 0 ..< members {
                for earlier in keyIndices where doc.stringsEqual(earlier, j) {
                    throw .duplicateKey(doc.string(j), depth: depth)
                }
                keyIndices.append(j)
                j = doc.next(after: j + 1)
            }
            return
        }
        // Open addressing over a table at most half full, reused between objects.
        if seed == 0 { seed = UInt64.random(in: 1 ... .max) }
        var size = 64
        while size < members * 2 { size *= 2 }
        if slots.count < size { slots = [UInt64](repeating: 0, count: size) } else { slots.withUnsafeMutableBufferPointer { $0.baseAddress!.update(repeating: 0, count: size) } }
        let mask = size - 1
        var j = index + 1
        for _ in 0 ..< members {
            let h = doc.withStringBytes(j) { Self.hash($0, seed: seed) }
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] != 0 {
                let other = Int(truncatingIfNeeded: slots[s] & 0xFFFF_FFFF) - 1
                if slots[s] >> 32 == UInt64(h), doc.stringsEqual(other, j) {
                    throw .duplicateKey(doc.string(j), depth: depth)
                }
                s = (s + 1) & mask
            }
            slots[s] = UInt64(h) << 32 | UInt64(j + 1)
            j = doc.next(after: j + 1)
        }
    }

    /// A 32-bit hash of a key's decoded bytes, eight bytes per step.
    private static func hash(_ b: UnsafeBufferPointer<UInt8>, seed: UInt64) -> UInt32 {
        var h: UInt64 = seed ^ UInt64(b.count)
        var i = 0
        let raw = UnsafeRawBufferPointer(b)
        while i + 8 <= b.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0xFF51_AFD7_ED55_8CCD
            h ^= h >> 29
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < b.count { tail |= UInt64(b[i]) << shift; shift += 8; i += 1 }
        h = (h ^ tail) &* 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 32
        return UInt32(truncatingIfNeeded: h)
    }

    /// The whole text is UTF-8 (the error path's check).
    static func isValidUTF8(_ text: UnsafeRawBufferPointer) -> Bool {
        String(validating: text.bindMemory(to: UInt8.self), as: UTF8.self) != nil
    }
}
