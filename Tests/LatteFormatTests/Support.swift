import Testing
import LatteCore
import LatteReaders
import LatteTestSupport
@testable import LatteFormat

/// Every safetensors fixture that exists right now.
func fixtureFiles() -> [String] {
    var out = listFolder(fixturePath("readers")).filter { $0.hasSuffix(".safetensors") }.map { fixturePath("readers/" + $0) }
    for m in listFolder(fixturePath("models")) {
        let f = fixturePath("models/" + m + "/model.safetensors")
        if fileExists(f) { out.append(f) }
    }
    return out
}

/// Options for tests: no fsync, small chunks so even small tensors get several.
func testOptions(chunkSize: Int = 4096) -> LatteWriteOptions {
    var o = LatteWriteOptions()
    o.sync = false
    o.chunkSize = chunkSize
    // Plain manifests: these tests read and edit the manifest at the trailer.
    o.compressManifest = false
    return o
}

/// Where a `.latte` file's manifest lies, from its trailer.
func manifestRange(of bytes: [UInt8]) -> Range<Int> {
    let t = bytes.count - LatteLayout.trailerSize
    let offset = Int(bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: t, as: UInt64.self) })
    return offset ..< t
}

/// `bytes` (a `.latte` file) with its manifest replaced by `manifest` and the trailer signed
/// again, as an attacker would: the checksum is no protection against a crafted file.
func resigned(_ bytes: [UInt8], manifest: [UInt8]) -> [UInt8] {
    let offset = manifestRange(of: bytes).lowerBound
    var out = Array(bytes[0 ..< offset]) + manifest
    for v in [UInt64(offset), UInt64(manifest.count), XXH64.hash(manifest)] {
        for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
    return out + LatteLayout.endMagic
}

/// A named edit of a valid manifest and the words the reader's refusal must contain: the
/// argument of a parameterized test that applies it with `editedManifest`.
struct ManifestEdit: CustomTestStringConvertible, Sendable {
    var name: String
    var expected: String
    var edit: @Sendable (inout LatteManifest) -> Void
    var testDescription: String { name }
}

/// `bytes` with its manifest rewritten by `edit`, structurally: the writer's own serializer
/// writes the edited manifest, so only the edit differs.
func editedManifest(_ bytes: [UInt8], path: String, _ edit: (inout LatteManifest) -> Void) throws -> [UInt8] {
    writeFile(path, bytes)
    var m = try LatteFile(path: path).manifest
    edit(&m)
    return resigned(bytes, manifest: Array(m.json.serialized().utf8))
}

/// A `.latte` file of one F32 tensor `w` of weight-like values in `chunks` chunks of
/// `chunkSize` bytes (planes chunks: a raw plane and rANS planes), and its path.
func multiChunkLatte(_ dir: TempDir, chunks: Int, chunkSize: Int = 4096, dtype: DType = .f32) throws -> (path: String, bytes: [UInt8], file: LatteFile) {
    let count = chunks * chunkSize / (dtype.byteWidth ?? 1)
    writeSafetensors(dir.file("w.safetensors"), [SyntheticTensor(name: "w", dtype: dtype, shape: [count],
                                                                 bytes: makeBytes(dtype, count: count, pattern: .weights, seed: 3))])
    let path = dir.file("w.latte")
    var options = testOptions(chunkSize: chunkSize)
    options.threads = 2
    // rANS planes even in small chunks (the callers damage them), not the small-chunk zstd.
    options.codec.smallPlane = 0
    options.codec.smallChunk = 0
    try LatteWriter.write(try CheckpointReader.open(path: dir.file("w.safetensors")), plan: nil, to: path, options: options)
    let file = try LatteFile(path: path)
    return (path, readFile(path), file)
}

/// `syntheticCheckpoint()` written as `model.safetensors` in `dir` and converted with
/// `options` to `m.latte`: the source checkpoint and the file read back.
func syntheticLatte(_ dir: TempDir, options: LatteWriteOptions = testOptions()) throws -> (source: Checkpoint, file: LatteFile) {
    writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
    let source = try CheckpointReader.open(path: dir.file("model.safetensors"))
    try LatteWriter.write(source, plan: nil, to: dir.file("m.latte"), options: options)
    return (source, try LatteFile(path: dir.file("m.latte")))
}

/// A `.latte` file of `syntheticCheckpoint()` with a small `run.json` embedded, as `m.latte`
/// in `dir`: its path and bytes.
func latteWithEmbeddedRunJSON(_ dir: TempDir) throws -> (path: String, bytes: [UInt8]) {
    writeSafetensors(dir.file("model.safetensors"), syntheticCheckpoint())
    writeFile(dir.file("run.json"), Array(#"{"steps": 2, "cfg_scale": 1.0}"#.utf8))
    var options = testOptions()
    options.embeddedFiles = [(name: "run.json", path: dir.file("run.json"))]
    let path = dir.file("m.latte")
    try LatteWriter.write(try CheckpointReader.open(path: dir.file("model.safetensors")), plan: nil, to: path, options: options)
    return (path, readFile(path))
}

/// A `.latte` file made from scratch: the header, `data` as the data region (from byte 64),
/// then `manifest` and a trailer that signs it.
func assembledLatte(data: [UInt8], _ manifest: LatteManifest) -> [UInt8] {
    var out = LatteLayout.magic + [UInt8(LatteLayout.majorVersion), 0, UInt8(LatteLayout.minorVersion), 0]
    out += [UInt8](repeating: 0, count: LatteLayout.headerSize - out.count) + data
    let text = Array(manifest.json.serialized().utf8)
    let offset = out.count
    out += text
    for v in [UInt64(offset), UInt64(text.count), XXH64.hash(text)] {
        for k in 0 ..< 8 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
    return out + LatteLayout.endMagic
}

/// What opening a `.latte` file of `tensors` over the data region `data`, assembled by hand
/// in a folder of its own, reports.
func openingError(data: [UInt8], chunkSize: Int, _ tensors: [LatteTensor]) -> String {
    let dir = TempDir()
    defer { dir.cleanup() }
    let path = dir.file("assembled.latte")
    writeFile(path, assembledLatte(data: data, manifest(chunkSize: chunkSize, dataBytes: data.count, tensors)))
    return errorText { _ = try LatteFile(path: path) }
}

/// A manifest of `tensors` in one section spanning `dataBytes` bytes from offset 64.
func manifest(chunkSize: Int, dataBytes: Int, _ tensors: [LatteTensor]) -> LatteManifest {
    LatteManifest(requiredFeatures: ["xxh64", "zstd", "planes", "rans32"], optionalFeatures: [], chunkSize: chunkSize,
                  metadata: [], provenance: .object([]),
                  sections: [SectionEntry(name: "shared", kind: .shared, offset: LatteLayout.headerSize, length: dataBytes)],
                  tensors: tensors, blobs: [])
}
