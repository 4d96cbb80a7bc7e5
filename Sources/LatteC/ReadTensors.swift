import LatteCore
import LatteFormat
import LatteSystem

// Reads into the caller's buffers: every chunk decoded in place (`LatteFile.decode`), each
// tensor's checksum verified before the call returns LATTE_OK.

/// Tensor `index` into `buffer` (exactly its nbytes) on up to `threads` threads (<= 0: every
/// core).
@_cdecl("latte_read_tensor")
public func latte_read_tensor(_ f: OpaquePointer?, _ index: Int64, _ buffer: UnsafeMutableRawPointer?, _ size: Int64,
                              _ threads: Int32) -> Int32 {
    var buffers: [UnsafeMutableRawPointer?] = [buffer]
    var sizes: [Int64] = [size]
    var indices: [Int64] = [index]
    return latte_read_tensors(f, 1, &indices, &buffers, &sizes, threads)
}

/// Tensors `indices[0 ..< count]` into `buffers[i]` (each exactly `sizes[i]`, the tensor's
/// nbytes), all their chunks decoded together on up to `threads` threads.
@_cdecl("latte_read_tensors")
public func latte_read_tensors(_ f: OpaquePointer?, _ count: Int64, _ indices: UnsafePointer<Int64>?,
                               _ buffers: UnsafePointer<UnsafeMutableRawPointer?>?, _ sizes: UnsafePointer<Int64>?,
                               _ threads: Int32) -> Int32 {
    guarded({ _ in .format }) {
        let h = try handle(f)
        guard count >= 0 else { throw ABIError.argument("negative tensor count \(count)") }
        guard count == 0 || (indices != nil && buffers != nil && sizes != nil) else { throw ABIError.argument("null argument to latte_read_tensors") }
        var tensors: [LatteTensor] = []
        var out: [UnsafeMutableRawBufferPointer] = []
        for k in 0 ..< Int(count) {
            let t = try h.tensor(indices![k])
            guard sizes![k] == t.nbytes else {
                throw ABIError.argument(LocatedError(path: h.file.path, tensor: t.name, BufferSizeError(given: sizes![k], needed: t.nbytes)).description)
            }
            guard t.nbytes == 0 || buffers![k] != nil else { throw ABIError.argument("null buffer for tensor '\(t.name)'") }
            tensors.append(t)
            out.append(UnsafeMutableRawBufferPointer(start: buffers![k], count: t.nbytes))
        }
        try h.file.decode(tensors, into: out, threads: threads <= 0 ? SystemInfo.onlineCores : Int(threads))
    }
}

/// A buffer whose size is not the tensor's.
struct BufferSizeError: Error, CustomStringConvertible {
    let given: Int64
    let needed: Int
    var description: String { "buffer of \(given) bytes for a tensor of \(needed)" }
}
