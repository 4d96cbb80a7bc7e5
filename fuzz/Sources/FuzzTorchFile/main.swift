import FuzzSupport
import LatteCore
import LatteReaders

// Whole PyTorch files as `latte inspect` reads them: torch.save zip, legacy, torch.export
// (weights config JSON), then every tensor's bytes. Inputs go through a file in /dev/shm
// because the reader maps files.
runFuzzer { bytes in
    let path = writeInputFile(bytes, tag: "torch")
    guard let file = try? MappedFile(path: path),
          let contents = try? TorchReader.read(file: file, fileIndex: 0) else { return }
    let checkpoint = Checkpoint(format: contents.format, files: [file], tensors: contents.tensors)
    for t in checkpoint.tensors {
        _ = try? checkpoint.bytes(of: t).withUnsafeBytes { $0.reduce(0, &+) }
    }
}
