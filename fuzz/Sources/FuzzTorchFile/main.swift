import FuzzSupport
import LatteCore
import LatteReaders

#if canImport(Glibc)
import Glibc
#endif

// Whole PyTorch files as `latte inspect` reads them: torch.save zip, legacy, torch.export
// (weights config JSON), then every tensor's bytes. Inputs go through a file in /dev/shm
// because the reader maps files.
let path = "/dev/shm/latte-fuzz-torch-\(getpid())"
runFuzzer { bytes in
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path)") }
    if let base = bytes.baseAddress { _ = write(fd, base, bytes.count) }
    close(fd)
    guard let file = try? MappedFile(path: path),
          let contents = try? TorchReader.read(file: file, fileIndex: 0) else { return }
    let checkpoint = Checkpoint(format: contents.format, files: [file], tensors: contents.tensors)
    for t in checkpoint.tensors {
        _ = try? checkpoint.bytes(of: t).withUnsafeBytes { $0.reduce(0, &+) }
    }
}
