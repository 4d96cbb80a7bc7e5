import LatteSystem
import LatteCore

/// The provenance facts the writer records: where the weights came from.
enum Provenance {
    /// SHA-256 of a file, read with `read(2)` into a small buffer: a memory map would leave
    /// every page of a multi-GB source resident in this process.
    static func sha256(path: String) throws -> (size: Int, hex: String) {
        let (fd, _) = try InputFile.open(path)
        defer { close(fd) }
        var h = SHA256()
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buf.deallocate() }
        var size = 0
        while true {
            let n: Int
            do { n = try FileIO.read(fd, into: buf) } catch { throw FileAccessError.cannotOpen(path: path, errno: error) }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0 ..< n]))
            size += n
            if n < buf.count { break }
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
