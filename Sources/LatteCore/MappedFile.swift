#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A read-only memory map of a whole file (`InputFile.open` + `mmap(PROT_READ, MAP_PRIVATE)`).
///
/// Mapping costs nothing until pages are touched, so a multi-GB checkpoint is never read
/// into memory: readers take `UnsafeRawBufferPointer` slices of it and the kernel pages
/// in only what is used.
public final class MappedFile: ByteRegion, @unchecked Sendable { // immutable after init
    /// The path the file was opened with.
    public let path: String
    /// The file's size in bytes when it was mapped.
    public let size: Int
    private let base: UnsafeRawPointer?

    /// Maps `path` read-only. Throws `FileAccessError` when it cannot be opened or mapped,
    /// or is not a regular file.
    public init(path: String) throws {
        self.path = path
        let (fd, size) = try InputFile.open(path)
        defer { close(fd) }
        self.size = size
        if size == 0 {
            base = nil
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileAccessError.cannotMap(path: path, errno: Errno(errno)) }
        base = UnsafeRawPointer(p)
    }

    deinit {
        if let base { munmap(UnsafeMutableRawPointer(mutating: base), size) }
    }

    /// The whole mapping. Valid while this object is alive.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: size) }

    /// Always true: the map is read-only and private.
    public var isFileMapped: Bool { true }

    /// Checks that the file still has the size it was mapped with: a source truncated
    /// underneath us would otherwise raise SIGBUS on the next page touched.
    public func checkUnchanged() throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw FileAccessError.cannotOpen(path: path, errno: Errno(errno)) }
        if Int(st.st_size) != size { throw FileAccessError.changedWhileReading(path: path, was: size, now: Int(st.st_size)) }
    }
}

/// The one way latte opens a file it reads: only regular files are read.
public enum InputFile {
    /// Opens `path` read-only and returns the descriptor (the caller closes it) and the size.
    ///
    /// `O_NONBLOCK` makes `open` return at once on a FIFO, which would otherwise block until
    /// some writer opened it, and `O_NOCTTY` keeps a terminal device from becoming ours; then
    /// `fstat` on the open descriptor (so no rename can swap the file between check and use)
    /// refuses anything that is not a regular file, naming what it is. On a regular file
    /// `O_NONBLOCK` has no effect on reads.
    public static func open(_ path: String) throws(FileAccessError) -> (fd: Int32, size: Int) {
        let fd = openNonBlocking(path)
        guard fd >= 0 else {
            let e = errno
            // A socket cannot be opened at all (ENXIO): say what it is rather than that.
            var st = stat()
            if e == ENXIO, stat(path, &st) == 0, FileKind(mode: st.st_mode) != .regular {
                throw .notARegularFile(path: path, kind: FileKind(mode: st.st_mode))
            }
            throw .cannotOpen(path: path, errno: Errno(e))
        }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw .cannotOpen(path: path, errno: Errno(e))
        }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .regular else {
            close(fd)
            throw .notARegularFile(path: path, kind: kind)
        }
        return (fd, Int(st.st_size))
    }
}

/// `open(2)` as `InputFile.open` needs it; named apart so that method does not shadow it.
private func openNonBlocking(_ path: String) -> Int32 { open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC) }

/// What a path names, from the `S_IFMT` bits of its mode.
public enum FileKind: Sendable, Equatable, CustomStringConvertible {
    case regular, directory, fifo, characterDevice, blockDevice, socket, symbolicLink, unknown

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .directory
        case S_IFIFO: self = .fifo
        case S_IFCHR: self = .characterDevice
        case S_IFBLK: self = .blockDevice
        case S_IFSOCK: self = .socket
        case S_IFLNK: self = .symbolicLink
        default: self = .unknown
        }
    }

    /// "a FIFO", "a character device", … as error messages say it.
    public var description: String {
        switch self {
        case .regular: "a regular file"
        case .directory: "a directory"
        case .fifo: "a FIFO"
        case .characterDevice: "a character device"
        case .blockDevice: "a block device"
        case .socket: "a socket"
        case .symbolicLink: "a symbolic link"
        case .unknown: "not a file latte knows"
        }
    }
}

/// Errors from opening and mapping files.
public enum FileAccessError: Error, Equatable, CustomStringConvertible {
    case cannotOpen(path: String, errno: Errno)
    case notARegularFile(path: String, kind: FileKind)
    case cannotMap(path: String, errno: Errno)
    case changedWhileReading(path: String, was: Int, now: Int)

    public var description: String {
        switch self {
        case let .cannotOpen(path, e): "\(path): cannot open: \(e)"
        case let .notARegularFile(path, kind): "\(path): is \(kind), not a regular file"
        case let .cannotMap(path, e): "\(path): cannot map: \(e)"
        case let .changedWhileReading(path, was, now):
            "\(path): the file changed while being read (was \(was) bytes, now \(now))"
        }
    }
}
