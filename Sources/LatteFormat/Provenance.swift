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
            do { n = try FileIO.read(fd, into: buf) } catch { throw FileAccessError.cannotOpen(path: path, errno: error.errno) }
            h.update(UnsafeRawBufferPointer(rebasing: buf[0 ..< n]))
            size += n
            if n < buf.count { break }
        }
        return (size, h.hexDigest())
    }

    /// The config file as a JSON object.
    static func config(path: String) throws -> JSONValue {
        let file = try MappedFile(path: path)
        let value: JSONValue
        do { value = try JSON.parse(file.bytes) } catch { throw LocatedError(path: path, ConfigError.notJSON(error)) }
        guard case .object = value else { throw LocatedError(path: path, ConfigError.notObject(found: value.typeName)) }
        return value
    }
}

/// Why a config file could not be recorded.
public enum ConfigError: Error, Equatable, CustomStringConvertible {
    case notJSON(JSONError)
    case notObject(found: String)

    public var description: String {
        switch self {
        case let .notJSON(e): "config is not valid JSON: \(e)"
        case let .notObject(f): "config must be a JSON object, found \(f)"
        }
    }
}
