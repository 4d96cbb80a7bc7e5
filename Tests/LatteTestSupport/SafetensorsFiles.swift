import LatteCore
import LatteReaders

/// The bytes of a safetensors file of `tensors` and `metadata`, as `SafetensorsWriter` writes them.
public func safetensorsFile(_ tensors: [SyntheticTensor], metadata: [(String, String)] = []) -> [UInt8] {
    do {
        return try SafetensorsWriter.bytes(tensors, metadata: metadata)
    } catch {
        preconditionFailure("a test's safetensors file cannot be written: \(error)")
    }
}

/// Writes a safetensors file of `tensors` and `metadata` to `path`.
public func writeSafetensors(_ path: String, _ tensors: [SyntheticTensor], metadata: [(String, String)] = []) {
    writeFile(path, safetensorsFile(tensors, metadata: metadata))
}
