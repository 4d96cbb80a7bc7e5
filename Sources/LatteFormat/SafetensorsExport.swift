import LatteCore
import LatteReaders

/// Writes a `.latte` file's tensors back out as a safetensors file: same names, dtypes,
/// shapes, bytes (bit-exact, every checksum verified on the way) and `__metadata__`.
public enum SafetensorsExport {
    /// Exports `latte` to `path` (written beside, renamed when complete). Memory: one batch
    /// of decoded chunks, whatever the file size. `progress` counts the tensor bytes
    /// checked and written, once per chunk.
    public static func export(_ latte: LatteFile, to path: String, progress: ProgressHandler? = nil) throws {
        // What the safetensors reader refuses is not written (the names and shapes were
        // already held to the same rules when the .latte file was read).
        let layout: SafetensorsWriter.Layout
        do { layout = try SafetensorsWriter.layout(latte.manifest.tensors.lazy.map(ExportedTensor.init), metadata: latte.manifest.metadata) }
        catch { throw LocatedError(path: path, error) }
        try OutputTarget.check(path, notOverwriting: [latte.path])
        let output = try AtomicOutput(path: path)
        do {
            try output.write(layout.headerBytes)
            // The decoding threads write their chunks straight to the file (at offsets known
            // from the manifest, which are the layout's), so the copy into the page cache runs
            // on every core; this thread checks the checksums in order. A mismatch discards
            // the whole output.
            let total = layout.dataSize
            var done = 0
            try output.fillRegion(count: total) { region in
                try latte.stream(latte.manifest.tensors, pairTwins: true, sink: { at, bytes in try region.write(bytes, at: at) }) { _, chunk in
                    done += chunk.count
                    progress?(done, total)
                }
            }
            try output.commit(sync: false)
        } catch {
            output.discard()
            throw error
        }
    }

    /// A manifest entry as the safetensors header records it.
    private struct ExportedTensor: SafetensorsHeaderEntry {
        let tensor: LatteTensor
        var name: String { tensor.name }
        var dtype: DType { tensor.dtype }
        var shape: [Int] { tensor.shape }
        var byteCount: Int { tensor.nbytes }
    }
}
