/// Everything the pickle machine refuses, one case per reason. `offset` is the byte
/// position of the offending opcode in the pickle.
public enum PickleError: Error, Equatable, CustomStringConvertible {
    /// The input ends before an opcode's argument or before STOP.
    case truncated(offset: Int)
    case unknownOpcode(UInt8, offset: Int)
    /// An opcode that exists but that no tensor file needs (EXT codes, INST, OBJ, out-of-band buffers…).
    case unsupportedOpcode(String, offset: Int)
    case unsupportedProtocol(Int)
    /// A global outside the tensor-rebuilding allowlist: it is named and nothing is imported.
    case refusedGlobal(module: String, name: String)
    /// `torch._utils._rebuild_qtensor` and friends.
    case quantizedTensor(global: String)
    /// `torch._utils._rebuild_sparse_tensor` and friends.
    case sparseTensor(global: String)
    case stackUnderflow(opcode: String, offset: Int)
    case markNotFound(opcode: String, offset: Int)
    case stackTooDeep(limit: Int)
    case nestingTooDeep(limit: Int)
    case tooManyOpcodes(limit: Int)
    /// The values built cost more than the budget allows for the bytes read so far.
    case allocationBudgetExceeded(limit: Int, inputBytes: Int, perByte: Int, allowance: Int, cap: Int)
    case memoIndexTooLarge(index: UInt64, limit: Int)
    case memoMissing(index: Int, offset: Int)
    /// An opcode declares more bytes than are left in the pickle.
    case lengthExceedsInput(opcode: String, declared: UInt64, remaining: Int, offset: Int)
    case integerTooLong(bytes: Int, limit: Int, offset: Int)
    case badText(opcode: String, offset: Int)
    case invalidUTF8(opcode: String, offset: Int)
    /// An opcode applied to a value of the wrong kind (SETITEM on a list, …).
    case wrongOperand(opcode: String, expected: String, found: String, offset: Int)
    case badPersistentID(reason: String)
    /// An allowlisted callable called with arguments it does not take.
    case badCall(function: String, reason: String)
    /// REDUCE/NEWOBJ on something that is not an allowlisted callable.
    case notCallable(String)

    public var description: String {
        switch self {
        case let .truncated(o): "the pickle ends early (at byte \(o)), before its STOP opcode"
        case let .unknownOpcode(op, o): "unknown pickle opcode 0x\(String(op, radix: 16)) at byte \(o)"
        case let .unsupportedOpcode(name, o): "pickle opcode \(name) at byte \(o) is not supported in a tensor file"
        case let .unsupportedProtocol(p): "pickle protocol \(p) is not supported (0 to 5 are)"
        case let .refusedGlobal(m, n): "refused global '\(m).\(n)': not in the tensor allowlist"
        case let .quantizedTensor(g): "a quantized tensor ('\(g)'): not supported"
        case let .sparseTensor(g): "a sparse tensor ('\(g)'): not supported"
        case let .stackUnderflow(op, o): "pickle opcode \(op) at byte \(o) needs more values than the stack holds"
        case let .markNotFound(op, o): "pickle opcode \(op) at byte \(o) has no MARK to pop to"
        case let .stackTooDeep(l): "the pickle's stack grows beyond \(l) values"
        case let .nestingTooDeep(l): "the pickle nests containers deeper than \(l) levels"
        case let .tooManyOpcodes(l): "the pickle runs more than \(l) opcodes"
        case let .allocationBudgetExceeded(l, n, k, a, c):
            "the pickle's values take more than \(l) bytes after its first \(n) bytes (the limit: \(k) per byte read plus \(a >> 20) MiB, at most \(c >> 20) MiB)"
        case let .memoIndexTooLarge(i, l): "pickle memo index \(i) exceeds the limit of \(l) entries"
        case let .memoMissing(i, o): "pickle memo entry \(i) read at byte \(o) was never stored"
        case let .lengthExceedsInput(op, d, r, o):
            "pickle opcode \(op) at byte \(o) declares \(d) bytes, but only \(r) remain in the pickle"
        case let .integerTooLong(b, l, o): "pickle integer of \(b) bytes at byte \(o) exceeds the \(l)-byte limit"
        case let .badText(op, o): "pickle opcode \(op) at byte \(o) has a malformed text argument"
        case let .invalidUTF8(op, o): "pickle opcode \(op) at byte \(o) holds a string that is not valid UTF-8"
        case let .wrongOperand(op, e, f, o): "pickle opcode \(op) at byte \(o) expects \(e), found \(f)"
        case let .badPersistentID(r): "invalid storage reference in the pickle: \(r)"
        case let .badCall(f, r): "invalid call of '\(f)' in the pickle: \(r)"
        case let .notCallable(k): "the pickle calls \(k), which is not an allowlisted callable"
        }
    }
}
