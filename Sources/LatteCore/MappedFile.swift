import LatteSystem

/// A read-only memory map of a whole file (`InputFile.open` + `mmap(PROT_READ, MAP_PRIVATE)`).
///
/// Mapping costs nothing until pages are touched, so a multi-GB checkpoint is never read
/// into memory: readers take `UnsafeRawBufferPointer` slices of it and the kernel pages
/// in only what is used.
///
/// Unchecked Sendable (`base` is a pointer): every property is immutable and the map is
/// read-only (`PROT_READ`), unmapped only in `deinit`, when no one holds the object.
public final class MappedFile: ByteRegion, @unchecked Sendable {
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

    /// Page advice over bytes `offset ..< offset + length` of the map (cut at its end).
    package func advise(_ offset: Int, _ length: Int, _ advice: PageAdvice) {
        guard offset >= 0, length > 0, offset < size else { return }
        LatteSystem.advise(UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + min(length, size - offset)]), advice)
    }
}

/// The one way latte opens a file it reads: only regular files are read.
public enum InputFile {
    /// Opens `path` read-only and returns the descriptor (the caller closes it) and the size.
    ///
    /// `FileIO.openForReading` does not block on a FIFO nor take a terminal; then `fstat` on
    /// the open descriptor (so no rename can swap the file between check and use) refuses
    /// anything that is not a regular file, naming what it is.
    public static func open(_ path: String) throws(FileAccessError) -> (fd: Int32, size: Int) {
        let fd: Int32
        do { fd = try FileIO.openForReading(path) } catch {
            // A socket cannot be opened at all (ENXIO): say what it is rather than that.
            if error.code == ENXIO, let st = try? FileIO.status(path: path), FileKind(mode: st.st_mode) != .regular {
                throw .notARegularFile(path: path, kind: FileKind(mode: st.st_mode))
            }
            throw .cannotOpen(path: path, errno: error)
        }
        let st: stat
        do { st = try FileIO.status(fd) } catch {
            close(fd)
            throw .cannotOpen(path: path, errno: error)
        }
        let kind = FileKind(mode: st.st_mode)
        guard kind == .regular else {
            close(fd)
            throw .notARegularFile(path: path, kind: kind)
        }
        return (fd, Int(st.st_size))
    }
}

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
