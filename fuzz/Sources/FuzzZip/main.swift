import FuzzSupport
import LatteReaders

// The zip reader: end of central directory, zip64 records, central directory, local headers.
runFuzzer { bytes in
    guard let zip = try? ZipArchive(bytes: bytes) else { return }
    for record in zip.records {
        // Every record the reader accepted must address bytes inside the input.
        if let data = try? zip.data(of: record, in: bytes), let base = bytes.baseAddress, data.count > 0 {
            precondition(data.baseAddress! >= base && data.baseAddress! + data.count <= base + bytes.count)
        }
    }
}
