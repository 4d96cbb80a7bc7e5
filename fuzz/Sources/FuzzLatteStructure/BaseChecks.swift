import FuzzSupport
import LatteCore
import LatteFormat
import LatteReaders

/// A file with base references is opened a second time against a base made of its own
/// stored tensors (each under its name, in memory): references the mutator pointed at
/// another tensor then resolve, so the base's lookups, the dtype, shape and hash checks, the
/// reads in place and twin deltas against a twin in the base all run, under the same checks
/// as any file (LatteChecks).
enum BaseChecks {
    struct View: SafetensorsView {
        var name: String
        var dtype: DType
        var shape: [Int]
        var bytes: [UInt8]
        var byteCount: Int { bytes.count }
        func writeBytes(_ write: (UnsafeRawBufferPointer) throws -> Void) throws { try bytes.withUnsafeBytes(write) }
    }

    static func run(_ file: LatteFile, exportDir: String) {
        guard file.tensors.contains(where: { $0.base != nil }) else { return }
        var views: [View] = []
        var total = 0
        for t in file.tensors where t.base == nil && t.nbytes <= LatteChecks.collectLimit - total {
            guard let b = try? file.read(t) else { continue }
            views.append(View(name: t.name, dtype: t.dtype, shape: t.shape, bytes: b))
            total += t.nbytes
        }
        guard let bytes = try? SafetensorsWriter.bytes(views),
              let base = try? SafetensorsReader.open(region: MemoryRegion(copying: bytes, label: "base")),
              let again = try? LatteFile(path: file.path, base: base) else { return }
        LatteChecks.run(again, exportDir: exportDir)
        // Every reference whose base tensor is present with its dtype, shape and bytes reads;
        // any other is refused (never other bytes).
        for t in again.tensors {
            guard let ref = t.base, let got = try? again.read(t) else { continue }
            guard let v = views.first(where: { $0.name == ref.name }), v.dtype == t.dtype, v.shape == t.shape, v.bytes == got else {
                finding("tensor '\(t.name.debugDescription)' read from the base as bytes the base's '\(ref.name.debugDescription)' does not hold")
            }
        }
    }
}
