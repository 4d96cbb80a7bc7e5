#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file (`open` + `fstat` + `mmap(PROT_READ, MAP_PRIVATE)`).
///
/// Mapping costs nothing until pages are touched, so a multi-GB checkpoint is never read
/// into memory: readers take `UnsafeRawBufferPointer` slices of it and the kernel pages
/// in only what is used.
public final class MappedFile: @unchecked Sendable {
    /// The path the file was opened with.
    public let path: String
    /// The file's size in bytes when it was mapped.
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only. Throws `FileAccessError` when it cannot be opened or mapped.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileAccessError.cannotOpen(path: path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileAccessError.cannotOpen(path: path, errno: errno) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileAccessError.notARegularFile(path: path) }
        size = Int(st.st_size)
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileAccessError.cannotMap(path: path, errno: errno) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The whole mapping. Valid while this object is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Bytes `offset ..< offset + count`, or nil when that range is not inside the file.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + count])
    }

    /// Checks that the file still has the size it was mapped with: a source truncated
    /// underneath us would otherwise raise SIGBUS on the next page touched.
    public func checkUnchanged() throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileAccessError.cannotOpen(path: path, errno: errno) }
        if Int(st.st_size) != size { throw FileAccessError.changedWhileReading(path: path, was: size, now: Int(st.st_size)) }
    }
}

/// Errors from opening and mapping files.
public enum FileAccessError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Int32)
    case notARegularFile(path: String)
    case cannotMap(path: String, errno: Int32)
    case changedWhileReading(path: String, was: Int, now: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(path, e): "\(path): cannot open: \(String(cString: strerror(e)))"
        case let .notARegularFile(path): "\(path): not a regular file"
        case let .cannotMap(path, e): "\(path): cannot map: \(String(cString: strerror(e)))"
        case let .changedWhileReading(path, was, now):
            "\(path): the file changed while being read (was \(was) bytes, now \(now))"
        }
    }
}
