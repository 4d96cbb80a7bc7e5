import FuzzSupport
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
}
