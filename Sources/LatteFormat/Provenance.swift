#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LatteCore

/// The provenance facts the writer records: where the weights came from.
enum Provenance {
    /// SHA-256 of a file, read with `pread` into a small buffer: a memory map would leave
    /// every page of a multi-GB source resident in this process.
    static func sha256(path: String) throws -> (size: Int, hex: String) {
        let (fd, _) = try InputFile.open(path)
        defer { close(fd) }
        var h = SHA256()
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        var size = 0
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileAccessError.cannotOpen(path: path, errno: Errno(errno))
            }
            if n == 0 { break }
            buf.withUnsafeBytes { h.update(UnsafeRawBufferPointer(rebasing: $0[0 ..< n])) }
            size += n
        }
        return (size, h.hexDigest())
    }

    /// The config as the manifest records it: a JSON object.
    static func config(_ file: ConfigFile) throws -> JSONValue {
        guard case .object = file.json else { throw LocatedError(path: file.path, ConfigError.notObject(found: file.json.typeName)) }
        return file.json
    }
}

/// Why a config file could not be recorded.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case notObject(found: String)

    public var description: String {
        switch self {
        case let .notObject(f): "config must be a JSON object, found \(f)"
        }
    }
}
