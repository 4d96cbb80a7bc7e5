import LatteCore
import LatteFormat
import LatteMapper
import LatteSystem

// The write half of include/latte.h: a `.latte` file from tensors in the caller's memory,
// through `LatteWriter` and the mapper exactly as `latte convert` writes a checkpoint.

/// One tensor's bytes in the caller's memory, read in place (never copied) for the length
/// of one `latte_write` call.
///
/// Unchecked Sendable: the bytes are only read, and the caller keeps them alive and
/// unchanged until `latte_write` returns, after which nothing holds this region.
final class BorrowedRegion: ByteRegion, @unchecked Sendable {
    let path: String
    let bytes: UnsafeRawBufferPointer
    var size: Int { bytes.count }
    var isFileMapped: Bool { false }

    init(label: String, bytes: UnsafeRawBufferPointer) {
        path = label
        self.bytes = bytes
    }

    func checkUnchanged() throws {}
}

/// The C arrays `latte_write` takes, one entry per tensor.
struct WriteArguments {
    var names: UnsafePointer<UnsafePointer<CChar>?>?
    var dtypes: UnsafePointer<UnsafePointer<CChar>?>?
    var ndims: UnsafePointer<Int32>?
    var shapes: UnsafePointer<UnsafePointer<Int64>?>?
    var data: UnsafePointer<UnsafeRawPointer?>?
    var nbytes: UnsafePointer<Int64>?

    /// The checkpoint these describe; a tensor the arguments get wrong is named.
    func checkpoint(count: Int, metadata: [String: String], configPath: String?) throws -> Checkpoint {
        var files: [any ByteRegion] = []
        var tensors: [TensorEntry] = []
        guard count == 0 || (names != nil && dtypes != nil && ndims != nil && shapes != nil && data != nil && nbytes != nil) else {
            throw ABIError.argument("null tensor arrays to latte_write")
        }
        guard count > 0, let names, let dtypes, let ndims, let shapes, let data, let nbytes else {
            return Checkpoint(format: .safetensors, files: [], metadata: metadata, tensors: [], configPath: configPath)
        }
        for i in 0 ..< count {
            guard let n = names[i] else { throw ABIError.argument("tensor \(i): null name") }
            let name = String(cString: n)
            func bad(_ why: String) -> ABIError { .argument("tensor '\(name)': \(why)") }
            guard let d = dtypes[i], let dtype = DType(rawValue: String(cString: d)) else { throw bad("unknown dtype") }
            guard ndims[i] >= 0, ndims[i] <= 64, ndims[i] == 0 || shapes[i] != nil else { throw bad("bad shape (\(ndims[i]) dimensions)") }
            let shape = (0 ..< Int(ndims[i])).map { Int(shapes[i]![$0]) }
            guard let elements = elementCount(of: shape), let size = dtype.byteCount(elements: elements) else {
                throw bad("shape \(shape) does not give a whole number of \(dtype.name) bytes")
            }
            guard nbytes[i] == size else { throw bad("\(nbytes[i]) bytes for shape \(shape) of \(dtype.name) (\(size) bytes)") }
            guard size == 0 || data[i] != nil else { throw bad("null data") }
            files.append(BorrowedRegion(label: "<memory>", bytes: UnsafeRawBufferPointer(start: size == 0 ? nil : data[i], count: size)))
            tensors.append(TensorEntry(name: name, dtype: dtype, shape: shape, file: i, storageOffset: 0, storageLength: size, storageKey: name))
        }
        return Checkpoint(format: .safetensors, files: files, metadata: metadata, tensors: tensors, configPath: configPath)
    }
}

/// Writes `count` tensors and `meta_count` metadata pairs to `path`, with the expert-group
/// plan of the config at `config_path` (NULL: one shared section, as `convert` without a
/// config), on up to `threads` threads (<= 0: every core). The file appears only when complete.
@_cdecl("latte_write")
public func latte_write(_ path: UnsafePointer<CChar>?, _ count: Int64, _ names: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ dtypes: UnsafePointer<UnsafePointer<CChar>?>?, _ ndims: UnsafePointer<Int32>?,
                        _ shapes: UnsafePointer<UnsafePointer<Int64>?>?, _ data: UnsafePointer<UnsafeRawPointer?>?,
                        _ nbytes: UnsafePointer<Int64>?, _ metaCount: Int64, _ metaKeys: UnsafePointer<UnsafePointer<CChar>?>?,
                        _ metaValues: UnsafePointer<UnsafePointer<CChar>?>?, _ configPath: UnsafePointer<CChar>?,
                        _ threads: Int32) -> Int32 {
    guarded({ _ in .write }) {
        guard let path, count >= 0, metaCount >= 0 else { throw ABIError.argument("null path or negative count to latte_write") }
        var metadata: [String: String] = [:]
        if metaCount > 0 {
            guard let metaKeys, let metaValues else { throw ABIError.argument("null metadata arrays to latte_write") }
            for i in 0 ..< Int(metaCount) {
                guard let k = metaKeys[i], let v = metaValues[i] else { throw ABIError.argument("metadata \(i): null key or value") }
                metadata[String(cString: k)] = String(cString: v)
            }
        }
        let args = WriteArguments(names: names, dtypes: dtypes, ndims: ndims, shapes: shapes, data: data, nbytes: nbytes)
        let configFile = configPath.map { String(cString: $0) }
        let checkpoint = try args.checkpoint(count: Int(count), metadata: metadata, configPath: configFile)
        let config = try configFile.map { try ConfigFile(path: $0) }
        let out = String(cString: path)
        var options = LatteWriteOptions()
        options.threads = threads <= 0 ? SystemInfo.onlineCores : Int(threads)
        options.config = config
        let plan = try MappedCheckpoint.sectionPlanForConversion(checkpoint, source: out, config: config, mappingPath: nil, allowExtra: false)
        try LatteWriter.write(checkpoint, plan: plan, to: out, options: options)
    }
}
