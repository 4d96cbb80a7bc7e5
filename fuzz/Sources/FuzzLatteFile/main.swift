import FuzzSupport
import LatteCore
import LatteFormat

#if canImport(Glibc)
import Glibc
#endif

// `.latte` files as every command reads them: trailer, manifest, sections, chunks, codecs,
// checksums. Inputs go through a file in /dev/shm because the reader maps files.
let path = "/dev/shm/latte-fuzz-latte-\(getpid())"
runFuzzer { bytes in
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path)") }
    if let base = bytes.baseAddress { _ = write(fd, base, bytes.count) }
    close(fd)
    guard let file = try? LatteFile(path: path) else { return }
    file.threads = 1
    for t in file.tensors { _ = try? file.read(t) }
    for b in file.manifest.blobs { _ = try? file.readBlob(named: b.name) }
    _ = LatteVerifier.verify(file, source: nil)
}
