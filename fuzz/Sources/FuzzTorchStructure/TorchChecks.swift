#if canImport(Glibc)
import Glibc
#endif
import FuzzSupport
import LatteCore
import LatteFormat
import LatteReaders

/// A generated `torch.save` file put through `latte convert`'s path: read (pickle, tensor
/// collection, storages, views), then converted with `LatteWriter` (2 threads), which
/// materializes every view. What convert writes must read back (`LatteFile` opens it and
/// `LatteVerifier` finds every tensor equal to the source); a failed convert must leave
/// nothing in the output folder.
enum TorchChecks {
    static func run(path: String, outDir: String) {
        guard let file = try? MappedFile(path: path), let contents = try? TorchReader.read(file: file, fileIndex: 0) else { return }
        let checkpoint = Checkpoint(format: contents.format, files: [file], tensors: contents.tensors)
        let out = outDir + "/out.latte"
        var options = LatteWriteOptions()
        options.threads = 2
        options.codec = CodecOptions(level: 1)
        let converted = (try? LatteWriter.write(checkpoint, plan: nil, to: out, options: options)) != nil
        let left = listFolder(outDir)
        guard converted else {
            if !left.isEmpty { finding("a failed convert left \(left) behind") }
            return
        }
        defer { unlink(out) }
        if left != ["out.latte"] { finding("convert left \(left)") }
        let latte: LatteFile
        do { latte = try LatteFile(path: out) } catch { finding("convert wrote a file latte cannot read: \(error)") }
        let report = LatteVerifier.verify(latte, source: checkpoint)
        if !report.ok { finding("convert wrote a file that does not verify against its source: \(report.failures.prefix(3))") }
    }
}
