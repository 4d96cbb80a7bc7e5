import FuzzSupport
import LatteReaders

// Safetensors header and layout: any bytes in, a header or a thrown error out.
runFuzzer { bytes in
    guard let h = try? SafetensorsReader.parseHeader(bytes, fileIndex: 0) else { return }
    // The reader promised every tensor lies inside the input: touch each range.
    for t in h.tensors {
        precondition(t.storageOffset + t.storageLength <= bytes.count)
        _ = bytes[t.storageOffset ..< t.storageOffset + t.storageLength].reduce(0, &+)
    }
}
