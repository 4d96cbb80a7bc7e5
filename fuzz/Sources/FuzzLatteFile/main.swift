import FuzzSupport
import LatteC
import LatteCore
import LatteFormat

// `.latte` files as every command reads them: trailer, manifest, sections, chunks, codecs,
// checksums. Inputs go through a file because the reader maps files.
runFuzzer { bytes in
    let path = writeInputFile(bytes, tag: "latte")
    guard let file = try? LatteFile(path: path) else { return }
    // The reader's real thread count (at least 2): a stream then has a batch in flight.
    file.threads = max(2, file.threads)
    for t in file.tensors { _ = try? file.read(t) }
    for b in file.manifest.blobs { _ = try? file.readBlob(named: b.name) }
    _ = LatteVerifier.verify(file, source: nil)
    throughCABI(path)
}

/// The same file through the C library (include/latte.h), as the Python package calls it:
/// every query, then every tensor and every group decoded into caller buffers on 2 threads.
/// Tensors over 64 MiB are skipped: a caller allocates what the manifest says, and the
/// format lets 1 stored byte claim 2^15 (the fuzzer's memory limit is not the ABI's).
func throughCABI(_ path: String) {
    var f: OpaquePointer?
    guard path.withCString({ latte_open($0, &f) }) == 0, let f else { return }
    defer { latte_close(f) }
    let n = latte_tensor_count(f)
    var sizes: [Int64] = []
    for i in 0 ..< n {
        var nbytes: Int64 = 0
        var ndim: Int32 = 0
        var shape: UnsafePointer<Int64>?
        var name: UnsafePointer<CChar>?
        guard latte_tensor_info(f, i, &name, nil, &ndim, &shape, &nbytes, nil, nil, nil, nil) == 0 else { preconditionFailure("info of a listed tensor") }
        var found: Int64 = -1
        precondition(latte_find_tensor(f, name, &found) == 0, "a listed name is found")
        sizes.append(nbytes)
    }
    for i in 0 ..< latte_metadata_count(f) { _ = latte_metadata_entry(f, i, nil, nil) }
    _ = latte_provenance_json(f)
    let wanted = (0 ..< n).filter { sizes[Int($0)] <= 64 << 20 }
    read(f, wanted, sizes)
    for g in 0 ..< latte_group_count(f) {
        var group: Int32 = 0, count: Int64 = 0
        _ = latte_group_info(f, g, &group, &count)
        var members = [Int64](repeating: 0, count: Int(count))
        guard latte_group_tensors(f, group, &members, count) == 0 else { preconditionFailure("members of a listed group") }
        read(f, members.filter { sizes[Int($0)] <= 64 << 20 }, sizes)
    }
    // Misuse is refused, never trapped on.
    precondition(latte_read_tensor(f, n, nil, 0, 1) != 0 && latte_read_tensor(f, -1, nil, 0, 1) != 0)
}

func read(_ f: OpaquePointer, _ indices: [Int64], _ sizes: [Int64]) {
    let buffers = indices.map { UnsafeMutableRawPointer.allocate(byteCount: max(Int(sizes[Int($0)]), 1), alignment: 64) }
    defer { for b in buffers { b.deallocate() } }
    var pointers: [UnsafeMutableRawPointer?] = buffers
    var lengths = indices.map { sizes[Int($0)] }
    _ = latte_read_tensors(f, Int64(indices.count), indices, &pointers, &lengths, 2)
}
