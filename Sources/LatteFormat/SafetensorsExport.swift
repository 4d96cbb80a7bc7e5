import LatteCore

/// Writes a `.latte` file's tensors back out as a safetensors file: same names, dtypes,
/// shapes, bytes (bit-exact, every checksum verified on the way) and `__metadata__`.
public enum SafetensorsExport {
    /// Exports `latte` to `path` (written beside, renamed when complete). Memory: one batch
    /// of decoded chunks, whatever the file size. `progress` counts the tensor bytes
    /// checked and written, once per chunk.
    public static func export(_ latte: LatteFile, to path: String, progress: ProgressHandler? = nil) throws {
        let header = headerBytes(latte.manifest)
        // What the safetensors reader refuses is not written (the names and shapes were
        // already held to the same rules when the .latte file was read).
        guard header.count <= TensorRules.maxSafetensorsHeaderSize else {
            throw LocatedError(path: path, UnreadableOutputError.tooLarge(what: "the safetensors header", size: header.count, limit: TensorRules.maxSafetensorsHeaderSize))
        }
        try OutputTarget.check(path, notOverwriting: [latte.path])
        let output = try AtomicOutput(path: path)
        do {
            var len: [UInt8] = []
            for k in 0 ..< 8 { len.append(UInt8(truncatingIfNeeded: UInt64(header.count) >> (8 * UInt64(k)))) }
            try output.write(len)
            try output.write(header)
            // The decoding threads write their chunks straight to the file (at offsets known
            // from the manifest), so the copy into the page cache runs on every core; this
            // thread checks the checksums in order. A mismatch discards the whole output.
            let total = latte.manifest.tensors.reduce(0) { $0 + $1.nbytes }
            var done = 0
            try output.fillRegion(count: total) { region in
                try latte.stream(latte.manifest.tensors, sink: { at, bytes in try region.write(bytes, at: at) }) { _, chunk in
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

    /// The JSON header, padded with spaces to a multiple of 8 bytes as the reference
    /// implementation writes it (so the data starts aligned).
    static func headerBytes(_ m: LatteManifest) -> [UInt8] {
        var members: [(String, JSONValue)] = []
        if !m.metadata.isEmpty { members.append(("__metadata__", .object(m.metadata.map { ($0.0, .string($0.1)) }))) }
        var offset = 0
        for t in m.tensors {
            members.append((t.name, .object([
                ("dtype", .string(t.dtype.name)),
                ("shape", .array(t.shape.map { .int(Int64($0)) })),
                ("data_offsets", .array([.int(Int64(offset)), .int(Int64(offset + t.nbytes))])),
            ])))
            offset += t.nbytes
        }
        var bytes = Array(JSONValue.object(members).serialized().utf8)
        while bytes.count % 8 != 0 { bytes.append(0x20) }
        return bytes
    }
}
