import FuzzSupport

/// libFuzzer's hook: the input decoded as a `RunDescription` (defaults where bytes are
/// missing), 1–2 of its numbers set to boundaries, encoded again. 10 % of calls are
/// libFuzzer's byte mutations.
@_cdecl("LLVMFuzzerCustomMutator")
public func runCustomMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var r = FuzzRandom(seed: UInt64(seed))
    if r.chance(10) { return LLVMFuzzerMutate(data, size, maxSize) }
    var d = RunDescription(decoding: UnsafeRawBufferPointer(start: data, count: size))
    d.mutate(&r)
    return handBack(d.encoded, to: data, size: size, maxSize: maxSize)
}
