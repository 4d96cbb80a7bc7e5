#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LatteFormat

// `.latte` files, structure-aware: the custom mutator (CustomMutator.swift) edits the
// manifest as JSON and re-signs the trailer and the tensor checksums, or damages chunk
// payloads behind a valid manifest; each input is then opened, read, verified and exported
// with the reader's real thread count (LatteChecks.swift); a file with base references
// again against a base of its own stored tensors (BaseChecks.swift).
//
// `FuzzLatteStructure --write-seeds DIR N` writes N fresh valid files (seed 1, 2, …) and exits.
let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "--write-seeds", let n = Int(arguments[3]) {
    var written = 0
    for seed in 1 ... max(1, n) {
        var r = FuzzRandom(seed: UInt64(seed))
        if let bytes = LatteSeeds.make(&r), write(bytes, to: "\(arguments[2])/seed\(seed).latte") { written += 1 }
    }
    print("wrote \(written) seeds to \(arguments[2])")
    exit(written > 0 ? 0 : 1)
}

let exportDir = "/dev/shm/latte-fuzz-export-\(getpid())"
removeTree(exportDir)
mkdir(exportDir, 0o700)

runFuzzer { bytes in
    let path = writeInputFile(bytes, tag: "latte-structure")
    guard let file = try? LatteFile(path: path) else { return }
    LatteChecks.run(file, exportDir: exportDir)
    BaseChecks.run(file, exportDir: exportDir)
}
