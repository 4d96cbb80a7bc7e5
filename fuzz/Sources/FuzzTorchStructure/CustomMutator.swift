import FuzzSupport

/// libFuzzer's hook: an input is a `TorchDescription` (see its binary form); 1–3
/// structural mutations are applied to it. An input that does not decode (the empty first
/// input) is replaced by a fresh description; 5 % of calls mutate the description's bytes
/// with libFuzzer's own mutator instead.
@_cdecl("LLVMFuzzerCustomMutator")
public func torchCustomMutator(_ data: UnsafeMutablePointer<UInt8>, _ size: Int, _ maxSize: Int, _ seed: UInt32) -> Int {
    var r = FuzzRandom(seed: UInt64(seed))
    if r.chance(5) { return LLVMFuzzerMutate(data, size, maxSize) }
    var d = TorchDescription(decoding: UnsafeRawBufferPointer(start: data, count: size)) ?? TorchMutator.fresh(&r)
    for _ in 0 ..< r.within(1 ... 3) { TorchMutator.mutate(&d, &r) }
    return handBack(d.encoded, to: data, size: size, maxSize: maxSize)
}

/// Two descriptions side by side under one root dict.
@_cdecl("LLVMFuzzerCustomCrossOver")
public func torchCustomCrossOver(_ data1: UnsafePointer<UInt8>, _ size1: Int, _ data2: UnsafePointer<UInt8>, _ size2: Int,
                                 _ out: UnsafeMutablePointer<UInt8>, _ maxOutSize: Int, _ seed: UInt32) -> Int {
    guard let a = TorchDescription(decoding: UnsafeRawBufferPointer(start: data1, count: size1)),
          let b = TorchDescription(decoding: UnsafeRawBufferPointer(start: data2, count: size2)) else { return 0 }
    let bytes = TorchMutator.cross(a, b).encoded
    guard bytes.count <= maxOutSize else { return 0 }
    bytes.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: $0.count) }
    return bytes.count
}
