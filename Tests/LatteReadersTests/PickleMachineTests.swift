import Testing
import LatteCore
@testable import LatteReaders

@Suite struct PickleMachineTests {
    /// Runs a pickle and hands its value to `body` before the containers are released.
    @discardableResult
    func run<R>(_ bytes: [UInt8], limits: PickleMachine.Limits = .init(), _ body: (PickleValue) throws -> R) throws -> R {
        let result: Result<PickleMachine.Result, PickleError> = bytes.withUnsafeBytes { b in
            do throws(PickleError) { return .success(try PickleMachine(limits: limits).run(b)) } catch { return .failure(error) }
        }
        let r = try result.get()
        defer { r.release() }
        return try body(r.value)
    }

    func error(_ bytes: [UInt8], limits: PickleMachine.Limits = .init()) -> PickleError? {
        do { try run(bytes, limits: limits) { _ in () }; return nil } catch { return error as? PickleError }
    }

    func ints(_ v: PickleValue) -> [Int]? { v.sequence?.compactMap(\.intValue) }
    func bytes(_ v: PickleValue) -> [UInt8] { if case let .bytes(b) = v { b } else { [] } }
    func pairs(_ v: PickleValue) -> [String] {
        guard case let .dict(b) = v else { return [] }
        return b.entries.map { "\($0.key.stringValue ?? "?")=\($0.value.intValue ?? -1)" }
    }

    @Test func integersOfEveryWidth() throws {
        #expect(try run(P.proto() + [0x4B, 200, 0x2E]) { $0.intValue } == 200)
        #expect(try run(P.proto() + [0x4D, 0x34, 0x12, 0x2E]) { $0.intValue } == 0x1234)
        #expect(try run(P.proto() + [0x4A, 0xFE, 0xFF, 0xFF, 0xFF, 0x2E]) { $0.intValue } == -2)
        #expect(try run(Array("I42\n.".utf8)) { $0.intValue } == 42)
        #expect(try run(Array("I01\n.".utf8)) { v in if case .bool(true) = v { true } else { false } })
        #expect(try run(Array("L-7L\n.".utf8)) { $0.intValue } == -7)
        // LONG1: little-endian two's complement, sign-extended.
        #expect(try run(P.proto() + [0x8A, 0x01, 0xFF, 0x2E]) { $0.intValue } == -1)
        #expect(try run(P.proto() + [0x8A, 0x02, 0x00, 0x80, 0x2E]) { $0.intValue } == -32768)
        #expect(try run(P.proto() + [0x8A, 0x00, 0x2E]) { $0.intValue } == 0)
        #expect(try run(P.proto() + [0x8B, 0x02, 0, 0, 0, 0x10, 0x00, 0x2E]) { $0.intValue } == 16)
        // Wider than 64 bits: kept as bytes (the legacy magic number is 80 bits).
        let magic: [UInt8] = [0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]
        #expect(try run(P.proto() + [0x8A, 0x0A] + magic + [0x2E]) { v in if case let .bigInt(b) = v { b } else { [] } } == magic)
    }

    @Test func floatsStringsAndBytes() throws {
        let one: [UInt8] = [0x3F, 0xF0, 0, 0, 0, 0, 0, 0] // BINFLOAT is big-endian
        #expect(try run(P.proto() + [0x47] + one + [0x2E]) { v in if case let .float(d) = v { d } else { 0 } } == 1.0)
        #expect(try run(Array("F2.5\n.".utf8)) { v in if case let .float(d) = v { d } else { 0 } } == 2.5)
        #expect(try run(P.proto(4) + [0x8C, 3] + Array("hé".utf8) + [0x2E]) { $0.stringValue } == "hé")
        #expect(try run(P.proto() + P.bu("storage") + [0x2E]) { $0.stringValue } == "storage")
        #expect(try run(P.proto(4) + [0x8D] + [2, 0, 0, 0, 0, 0, 0, 0] + Array("ok".utf8) + [0x2E]) { $0.stringValue } == "ok")
        #expect(try run(Array("Vcaf\\u00e9\n.".utf8)) { $0.stringValue } == "café")
        #expect(try run(Array("S'a\\'b'\n.".utf8)) { $0.stringValue } == "a'b")
        #expect(try run(P.proto() + [0x55, 2] + Array("xy".utf8) + [0x2E]) { $0.stringValue } == "xy")
        #expect(try run(P.proto() + [0x54, 1, 0, 0, 0, 0x7A, 0x2E]) { $0.stringValue } == "z")
        for op: [UInt8] in [[0x43, 2], [0x42, 2, 0, 0, 0], [0x8E, 2, 0, 0, 0, 0, 0, 0, 0], [0x96, 2, 0, 0, 0, 0, 0, 0, 0]] {
            let b: [UInt8] = try run(P.proto(5) + op + [9, 8, 0x2E], bytes)
            #expect(b == [9, 8])
        }
        #expect(error(P.proto() + [0x8C, 2, 0xFF, 0xFE, 0x2E]) == .invalidUTF8(opcode: "SHORT_BINUNICODE", offset: 2))
        #expect(try run(P.proto() + [0x4E, 0x2E]) { v in if case .none = v { true } else { false } })
        #expect(try run(P.proto() + [0x88, 0x2E]) { v in if case .bool(true) = v { true } else { false } })
        #expect(try run(P.proto() + [0x89, 0x2E]) { v in if case .bool(false) = v { true } else { false } })
    }

    @Test func containers() throws {
        // [1, 2, 3] via EMPTY_LIST MARK ... APPENDS, then APPEND 4
        #expect(try run(P.proto() + [0x5D, 0x28, 0x4B, 1, 0x4B, 2, 0x4B, 3, 0x65, 0x4B, 4, 0x61, 0x2E]) { ints($0) } == [1, 2, 3, 4])
        #expect(try run(P.proto() + [0x28, 0x4B, 1, 0x4B, 2, 0x6C, 0x2E]) { ints($0) } == [1, 2])
        #expect(try run(P.proto() + [0x29, 0x2E]) { ints($0) } == [])
        #expect(try run(P.proto() + [0x4B, 1, 0x85, 0x2E]) { ints($0) } == [1])
        #expect(try run(P.proto() + [0x4B, 1, 0x4B, 2, 0x86, 0x2E]) { ints($0) } == [1, 2])
        #expect(try run(P.proto() + [0x4B, 1, 0x4B, 2, 0x4B, 3, 0x87, 0x2E]) { ints($0) } == [1, 2, 3])
        #expect(try run(P.proto() + [0x28, 0x4B, 1, 0x4B, 2, 0x74, 0x2E]) { ints($0) } == [1, 2])
        // {"a": 1} via EMPTY_DICT SETITEM, {"b": 2, "c": 3} via DICT
        let d1 = try run(P.proto() + [0x7D] + P.bu("a") + [0x4B, 1, 0x73, 0x2E], pairs)
        #expect(d1 == ["a=1"])
        let d2 = try run(P.proto() + [0x28] + P.bu("b") + [0x4B, 2] + P.bu("c") + [0x4B, 3, 0x64, 0x2E], pairs)
        #expect(d2 == ["b=2", "c=3"])
        // sets: EMPTY_SET + ADDITEMS, FROZENSET
        #expect(try run(P.proto(4) + [0x8F, 0x28, 0x4B, 5, 0x4B, 6, 0x90, 0x2E]) { v in if case let .set(b) = v { b.items.count } else { -1 } } == 2)
        #expect(try run(P.proto(4) + [0x28, 0x4B, 5, 0x91, 0x2E]) { v in if case let .set(b) = v { b.items.count } else { -1 } } == 1)
        // POP, POP_MARK, DUP
        #expect(try run(P.proto() + [0x4B, 1, 0x4B, 2, 0x30, 0x2E]) { $0.intValue } == 1)
        #expect(try run(P.proto() + [0x4B, 1, 0x28, 0x4B, 2, 0x4B, 3, 0x31, 0x2E]) { $0.intValue } == 1)
        #expect(try run(P.proto() + [0x4B, 7, 0x32, 0x86, 0x2E]) { ints($0) } == [7, 7])
    }

    @Test func protocolTwoSpellingsOfSetsBytesAndComplex() throws {
        // set([1, 2]) as protocol 2 writes it: GLOBAL __builtin__ set, a list, REDUCE.
        let set = P.proto() + P.global("__builtin__", "set") + [0x5D, 0x28, 0x4B, 1, 0x4B, 2, 0x65, 0x85, 0x52, 0x2E]
        #expect(try run(set) { v in if case let .set(b) = v { b.items.count } else { -1 } } == 2)
        // b"\xff\x01" as protocol 2 writes it: _codecs.encode("\u00ff\u0001", "latin1").
        let enc = P.proto() + P.global("_codecs", "encode") + P.bu("\u{FF}\u{01}") + P.bu("latin1") + [0x86, 0x52, 0x2E]
        let b: [UInt8] = try run(enc, bytes)
        #expect(b == [0xFF, 0x01])
        let cx = P.proto() + P.global("builtins", "complex") + [0x4B, 1, 0x4B, 2, 0x86, 0x52, 0x2E]
        #expect(try run(cx) { v in if case let .complex(re, im) = v { re == 1 && im == 2 } else { false } })
        #expect(error(P.proto() + P.global("_codecs", "encode") + P.bu("x") + P.bu("rot13") + [0x86, 0x52, 0x2E])
            == .badCall(function: "_codecs.encode", reason: "unsupported encoding rot13"))
    }

    @Test func memoSharesMutableContainers() throws {
        // l = []; memo[0] = l; (l, l) then append 1 to l: both tuple items see it.
        let p = P.proto() + [0x5D, 0x71, 0, 0x68, 0, 0x86, 0x68, 0, 0x4B, 1, 0x61, 0x30, 0x2E]
        let counts = try run(p) { v in v.sequence?.map { $0.sequence?.count ?? -1 } }
        #expect(counts == [1, 1])
        // MEMOIZE (protocol 4), LONG_BINPUT/LONG_BINGET, PUT/GET
        #expect(try run(P.proto(4) + [0x4B, 9, 0x94, 0x30, 0x68, 0, 0x2E]) { $0.intValue } == 9)
        #expect(try run(P.proto() + [0x4B, 9, 0x72, 5, 0, 0, 0, 0x30, 0x6A, 5, 0, 0, 0, 0x2E]) { $0.intValue } == 9)
        #expect(try run(Array("I9\np3\n0g3\n.".utf8)) { $0.intValue } == 9)
        #expect(error(P.proto() + [0x68, 4, 0x2E]) == .memoMissing(index: 4, offset: 2))
    }

    @Test func framesAreAccepted() throws {
        let body: [UInt8] = [0x4B, 3, 0x2E]
        #expect(try run(P.proto(4) + [0x95] + [3, 0, 0, 0, 0, 0, 0, 0] + body) { $0.intValue } == 3)
        #expect(error(P.proto(4) + [0x95] + [0xFF, 0, 0, 0, 0, 0, 0, 0] + body)
            == .lengthExceedsInput(opcode: "FRAME", declared: 255, remaining: 3, offset: 2))
    }

    @Test func tensorDescriptionFromRebuildV2() throws {
        let p = P.dict([("w", P.tensor("HalfStorage", key: "7", numel: 12, offset: 2, size: [2, 3], stride: [1, 2]))])
        let t = try run(p) { v -> TensorValue? in
            guard case let .dict(b) = v, case let .tensor(t) = b.entries.first?.value else { return nil }
            return t
        }
        let s = try #require(t?.storage)
        #expect(s.type == .typed(.float16))
        #expect(s.key == "7")
        #expect(s.location == "cpu")
        #expect(s.numel == 12)
        #expect(t?.scalarType == .float16)
        #expect(t?.storageOffset == 2)
        #expect(t?.size == [2, 3])
        #expect(t?.stride == [1, 2])
    }

    @Test func tensorDescriptionFromPreV2Rebuild() throws {
        // torch < 0.4: _rebuild_tensor(storage, offset, size, stride), no requires_grad or hooks.
        var p = P.proto() + P.global("torch._utils", "_rebuild_tensor") + [0x28]
        p += P.tuple([P.bu("storage"), P.global("torch", "DoubleStorage"), P.bu("1"), P.bu("cuda:0"), P.int(3), [0x4E]]) + [0x51]
        p += P.int(1) + P.tuple([P.int(2)]) + P.tuple([P.int(1)]) + [0x74, 0x52, 0x2E]
        let t = try run(p) { v -> TensorValue? in if case let .tensor(t) = v { t } else { nil } }
        #expect(t?.scalarType == .float64 && t?.storageOffset == 1 && t?.size == [2] && t?.storage?.location == "cuda:0")
    }

    @Test func stackGlobalAndAllowlist() throws {
        // STACK_GLOBAL with strings from SHORT_BINUNICODE resolves the same as GLOBAL.
        let sg = P.proto(4) + [0x8C, 5] + Array("torch".utf8) + [0x8C, 7] + Array("float32".utf8) + [0x93, 0x2E]
        #expect(try run(sg) { v in if case .global(.dtype(.float32)) = v { true } else { false } })
        #expect(try TorchGlobal.resolve(module: "torch", name: "BFloat16Storage") == .storageClass(.typed(.bfloat16), name: "torch.BFloat16Storage"))
        #expect(try TorchGlobal.resolve(module: "torch.cuda", name: "FloatStorage") == .storageClass(.typed(.float32), name: "torch.cuda.FloatStorage"))
        #expect(try TorchGlobal.resolve(module: "torch.storage", name: "UntypedStorage") == .storageClass(.untyped, name: "torch.storage.UntypedStorage"))
        #expect(try TorchGlobal.resolve(module: "torch", name: "float8_e4m3fn") == .dtype(.float8_e4m3fn))
        #expect(try TorchGlobal.resolve(module: "torch", name: "half") == .dtype(.float16))
        #expect(throws: PickleError.refusedGlobal(module: "torch", name: "load")) { try TorchGlobal.resolve(module: "torch", name: "load") }
        #expect(throws: PickleError.refusedGlobal(module: "torch.cuda", name: "float32")) { try TorchGlobal.resolve(module: "torch.cuda", name: "float32") }
    }

    @Test func hostileGlobalsAreRefusedByName() {
        let osSystem = P.proto() + P.global("os", "system") + P.bu("echo pwned") + [0x85, 0x52, 0x2E]
        #expect(error(osSystem) == .refusedGlobal(module: "os", name: "system"))
        #expect(PickleError.refusedGlobal(module: "os", name: "system").description == "refused global 'os.system': not in the tensor allowlist")
        let eval = P.proto(4) + [0x8C, 8] + Array("builtins".utf8) + [0x94, 0x8C, 4] + Array("eval".utf8) + [0x94, 0x93, 0x2E]
        #expect(error(eval) == .refusedGlobal(module: "builtins", name: "eval"))
        // INST names its class too, and is refused either way.
        #expect(error(Array("(ios\nsystem\n.".utf8)) == .refusedGlobal(module: "os", name: "system"))
        // REDUCE on a non-callable value: nothing happens but an error.
        #expect(error(P.proto() + P.bu("x") + [0x29, 0x52, 0x2E]) == .notCallable("str"))
        // Calling a dtype object is not allowed either.
        #expect(error(P.proto() + P.global("torch", "float32") + [0x29, 0x52, 0x2E]) == .notCallable("'torch.float32'"))
        #expect(error(P.proto() + P.global("torch._utils", "_rebuild_qtensor") + [0x2E]) == .quantizedTensor(global: "torch._utils._rebuild_qtensor"))
        #expect(error(P.proto() + P.global("torch._utils", "_rebuild_sparse_tensor") + [0x2E]) == .sparseTensor(global: "torch._utils._rebuild_sparse_tensor"))
    }

    @Test func bombsHitTheirOwnLimits() {
        // LONG4 declaring ~2 GiB: refused before any allocation.
        #expect(error(P.proto() + [0x8B, 0xF0, 0xFF, 0xFF, 0x7F, 1, 2, 3, 4, 0x2E])
            == .lengthExceedsInput(opcode: "LONG4", declared: 0x7FFF_FFF0, remaining: 5, offset: 2))
        // A LONG4 that fits the input but exceeds the integer limit.
        let wide = P.proto() + [0x8B, 0x00, 0x04, 0, 0] + [UInt8](repeating: 1, count: 1024) + [0x2E]
        #expect(error(wide) == .integerTooLong(bytes: 1024, limit: 256, offset: 2))
        // BINUNICODE8 / BINBYTES8 lengths beyond the input.
        #expect(error(P.proto(4) + [0x8D, 0, 0, 0, 0, 0, 0, 0, 0x80] + [0x2E])
            == .lengthExceedsInput(opcode: "BINUNICODE8", declared: 1 << 63, remaining: 1, offset: 2))
        #expect(error(P.proto() + [0x58, 0xFF, 0xFF, 0xFF, 0xFF, 0x2E])
            == .lengthExceedsInput(opcode: "BINUNICODE", declared: 0xFFFF_FFFF, remaining: 1, offset: 2))
        // Memo index far beyond any real pickle.
        #expect(error(P.proto() + [0x5D, 0x72, 0xF0, 0xFF, 0xFF, 0xFF, 0x6A, 0xF0, 0xFF, 0xFF, 0xFF, 0x2E])
            == .memoIndexTooLarge(index: 0xFFFF_FFF0, limit: 1 << 24))
        var small = PickleMachine.Limits()
        small.maxMemoEntries = 4
        #expect(error(P.proto() + [0x4B, 1, 0x71, 4, 0x2E], limits: small) == .memoIndexTooLarge(index: 4, limit: 4))
        // Nesting: thousands of nested lists (the fixture corpus has 50,000).
        let depth = 5000
        let nested = P.proto() + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
        #expect(error(nested) == .nestingTooDeep(limit: 1000))
        // Nesting built through the memo with a shallow stack is bounded too.
        var chain = P.proto() + [0x5D, 0x71, 0]
        for _ in 0 ..< 1100 { chain += [0x5D, 0x68, 0, 0x61, 0x71, 0, 0x30] }
        chain += [0x68, 0, 0x2E]
        #expect(error(chain) == .nestingTooDeep(limit: 1000))
        // Stack depth and opcode count.
        small = PickleMachine.Limits()
        small.maxStackDepth = 100
        #expect(error(P.proto() + [UInt8](repeating: 0x4E, count: 101) + [0x2E], limits: small) == .stackTooDeep(limit: 100))
        small = PickleMachine.Limits()
        small.maxOpcodes = 50
        #expect(error(P.proto() + [UInt8](repeating: 0x4E, count: 60) + [0x2E], limits: small) == .tooManyOpcodes(limit: 50))
    }

    @Test func malformedInputIsRefused() {
        #expect(error(P.proto()) == .truncated(offset: 2))
        #expect(error(P.proto() + [0x4A, 1]) == .truncated(offset: 3))
        #expect(error(P.proto(6)) == .unsupportedProtocol(6))
        #expect(error(P.proto() + [0xFF]) == .unknownOpcode(0xFF, offset: 2))
        #expect(error(P.proto() + [0x61, 0x2E]) == .stackUnderflow(opcode: "APPEND", offset: 2))
        #expect(error(P.proto() + [0x74, 0x2E]) == .markNotFound(opcode: "TUPLE", offset: 2))
        #expect(error(P.proto() + [0x4B, 1, 0x4B, 2, 0x61, 0x2E]) == .wrongOperand(opcode: "APPEND", expected: "a list", found: "int", offset: 6))
        #expect(error(P.proto() + [0x82, 1]) == .unsupportedOpcode("EXT", offset: 2))
        #expect(error(Array("Ix\n.".utf8)) == .badText(opcode: "INT", offset: 0))
        // A values left over at STOP is not a well-formed pickle.
        #expect(error(P.proto() + [0x4E, 0x4E, 0x2E]) != nil)
        // A MARK cannot be popped through by a plain POP of values beneath it.
        #expect(error(P.proto() + [0x4B, 1, 0x28, 0x61, 0x2E]) == .stackUnderflow(opcode: "APPEND", offset: 5))
    }

    @Test func persistentIDsAreChecked() {
        func pid(_ items: [[UInt8]]) -> [UInt8] { P.proto() + P.tuple(items) + [0x51, 0x2E] }
        #expect(error(pid([P.bu("module"), P.bu("x")])) == .badPersistentID(reason: "'module' ids are not supported (only 'storage')"))
        #expect(error(pid([P.bu("storage"), P.global("torch", "float32"), P.bu("0"), P.bu("cpu"), P.int(1)]))
            == .badPersistentID(reason: "item 2 must be a storage class, found global 'torch.float32'"))
        #expect(error(pid([P.bu("storage"), P.global("torch", "FloatStorage"), P.bu("0"), P.bu("cpu"), P.int(-1)])) != nil)
        #expect(error(P.proto() + Array("Pfoo\n.".utf8)) != nil)
    }

    @Test func randomBytesNeverTrap() {
        // Random and mutated inputs: errors, never a crash or hang.
        var g = SystemRandomNumberGenerator()
        let seed = P.dict([("w", P.tensor("FloatStorage", key: "0", numel: 4, size: [2, 2], stride: [2, 1]))])
        for _ in 0 ..< 2000 {
            var b = seed
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &g) { b[Int.random(in: 0 ..< b.count, using: &g)] = UInt8.random(in: 0 ... 255, using: &g) }
            _ = error(b)
        }
        for _ in 0 ..< 500 {
            _ = error((0 ..< Int.random(in: 0 ... 64, using: &g)).map { _ in UInt8.random(in: 0 ... 255, using: &g) })
        }
    }
}
