import LatteCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One float32 output tensor.
public struct OutputTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(elementCount(of: shape) == values.count, "\(name): \(values.count) values for shape \(shape)")
        self.name = name
        self.shape = shape
        self.values = values
    }
}

/// A minimal safetensors writer for the runtime's outputs: F32 tensors only, written to a
/// temporary file beside the destination and renamed over it when complete.
public enum OutputWriter {
    /// The file's bytes: header length, JSON header (space-padded to 8 bytes), data.
    public static func serialize(_ tensors: [OutputTensor]) -> [UInt8] {
        var header = "{"
        var offset = 0
        for (i, t) in tensors.enumerated() {
            if i > 0 { header += "," }
            let end = offset + t.values.count * 4
            header += "\(jsonString(t.name)):{\"dtype\":\"F32\",\"shape\":[\(t.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        header += "}"
        var headerBytes = Array(header.utf8)
        while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + headerBytes.count + offset)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(contentsOf: headerBytes)
        for t in tensors {
            for v in t.values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out.append(contentsOf: $0) } }
        }
        return out
    }

    /// Writes `tensors` to `path` atomically (temporary file in the same folder, then rename).
    public static func write(_ tensors: [OutputTensor], to path: String) throws {
        let bytes = serialize(tensors)
        let tmp = path + ".tmp-\(getpid())"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw FileAccessError.cannotOpen(path: tmp, errno: errno) }
        var ok = true
        var err: Int32 = 0
        bytes.withUnsafeBytes { buf in
            var off = 0
            while off < buf.count {
                let n = posixWrite(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 {
                    if errno == EINTR { continue }
                    ok = false
                    err = errno
                    return
                }
                off += n
            }
        }
        if ok && fsync(fd) != 0 { ok = false; err = errno }
        if close(fd) != 0 && ok { ok = false; err = errno }
        guard ok else {
            unlink(tmp)
            throw OutputWriteError.cannotWrite(path: tmp, errno: err)
        }
        guard rename(tmp, path) == 0 else {
            let e = errno
            unlink(tmp)
            throw OutputWriteError.cannotRename(from: tmp, to: path, errno: e)
        }
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where u.value < 0x20: out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}

public enum OutputWriteError: Error, Equatable, CustomStringConvertible {
    case cannotWrite(path: String, errno: Int32)
    case cannotRename(from: String, to: String, errno: Int32)

    public var description: String {
        switch self {
        case let .cannotWrite(p, e): "\(p): cannot write: \(String(cString: strerror(e)))"
        case let .cannotRename(f, t, e): "cannot rename \(f) to \(t): \(String(cString: strerror(e)))"
        }
    }
}

/// write(2), named apart from `OutputWriter.write`.
private func posixWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }
