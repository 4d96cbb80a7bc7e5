#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport

// Generated torch.save files, structure-aware: an input is a `TorchDescription` (storages
// and a DAG of pickle objects), mutated by CustomMutator.swift and serialized by
// `TorchFileWriter` into a zip with data.pkl and data/N records; each file then goes through
// the reader and the converter (TorchChecks.swift).
//
// `FuzzTorchStructure --emit INPUT OUT.pt` writes the torch file an input (a saved crash,
// say) describes, for the CLI or for Python's torch.load.
let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "--emit" {
    let fd = open(arguments[2], O_RDONLY)
    var input: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while fd >= 0 {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        input += buffer[0 ..< n]
    }
    guard let d = input.withUnsafeBytes({ TorchDescription(decoding: $0) }), let file = TorchFileWriter.file(d) else {
        print("not a description, or its file would be too large")
        exit(1)
    }
    let out = open(arguments[3], O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    _ = file.withUnsafeBytes { write(out, $0.baseAddress, $0.count) }
    close(out)
    exit(0)
}

let outDir = "/dev/shm/latte-fuzz-convert-\(getpid())"
mkdir(outDir, 0o700)

runFuzzer { bytes in
    guard let d = TorchDescription(decoding: bytes), let file = TorchFileWriter.file(d) else { return }
    let path = file.withUnsafeBytes { writeInputFile($0, tag: "torch-structure") }
    TorchChecks.run(path: path, outDir: outDir)
}
