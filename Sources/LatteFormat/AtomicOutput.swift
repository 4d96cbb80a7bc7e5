import LatteSystem
import LatteCore

/// An output that appears at its final path only when complete, and leaves nothing behind
/// otherwise, even when the process is killed (SIGKILL) at any moment.
///
/// On Linux the bytes go to an anonymous file (`O_TMPFILE`) in the output's folder: it has
/// no name, so the kernel frees it when the process dies however it dies. `commit()` gives it
/// the final name with `linkat` (through `/proc/self/fd/N`), which fails rather than replace
/// a file that exists; an existing output is replaced by linking under a unique name and
/// renaming that over it (atomic; the named window is the few microseconds between the two
/// calls, and SIGINT/SIGTERM in it remove the name). Where the filesystem cannot make
/// anonymous files (`EOPNOTSUPP`, or `EISDIR`/`EINVAL` from kernels and filesystems without
/// `O_TMPFILE`) or `/proc` is missing, the bytes go to `OUT.tmp-PID-RANDOM` instead and are
/// renamed when complete: the SIGINT table removes it, a SIGKILL can leave it.
/// `discard()` (or deinit without `commit()`) drops the output.
public final class AtomicOutput {
    public let finalPath: String
    /// The temporary file's name, on the named fallback only (nil for an anonymous file).
    public let temporaryPath: String?
    private var fd: Int32
    private var committed = false
    /// Where the signal handler finds a temporary name to remove (nil when there is none or
    /// the table is full).
    private var slot: Int?
    /// Bytes written so far (the current offset).
    public private(set) var offset = 0
    private var buffer: [UInt8] = []
    private static let bufferLimit = 4 << 20
    private static let directLimit = 256 << 10
    /// Test-only switch: set (to anything) in the environment, every output takes the named
    /// fallback, so the tests run that path on a filesystem that has `O_TMPFILE`.
    public static let namedFallbackVariable = "LATTE_TEST_NAMED_TEMPORARY"

    /// True when the output is an anonymous file that no kill can leave behind.
    public var isAnonymous: Bool { temporaryPath == nil }

    /// Opens the output's storage in its folder (mode 0644 less the umask). With
    /// `allowAnonymous: false` (tests) it takes the named fallback.
    public init(path: String, allowAnonymous: Bool = true) throws {
        // Past a file-size limit (`ulimit -f`) the kernel would kill us with SIGXFSZ and
        // leave a named temporary file; ignored, the write fails with EFBIG and we clean up.
        signal(SIGXFSZ, SIG_IGN)
        finalPath = path
        let useAnonymous = allowAnonymous && getenv(AtomicOutput.namedFallbackVariable) == nil
        if useAnonymous, let f = try AtomicOutput.openAnonymous(in: OutputTarget.folder(of: path), for: path) {
            fd = f
            temporaryPath = nil
        } else {
            (fd, temporaryPath) = try AtomicOutput.createNamed(besides: path)
            slot = InterruptCleanup.register(temporaryPath!)
        }
        buffer.reserveCapacity(AtomicOutput.bufferLimit)
    }

    /// An `O_TMPFILE` descriptor in `folder`, or nil when this filesystem (or kernel) cannot
    /// make one or the descriptor could not be linked later (no `/proc`).
    private static func openAnonymous(in folder: String, for path: String) throws -> Int32? {
        let f = open(folder, oTmpFile | O_WRONLY | O_CLOEXEC, 0o644)
        if f < 0 {
            if [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) { return nil }
            throw OutputError.cannotCreate(path: path, errno: Errno(errno))
        }
        guard access(procPath(f), F_OK) == 0 else {
            close(f)
            return nil
        }
        return f
    }

    /// The named fallback: `OUT.tmp-PID-RANDOM`, created with `O_EXCL`.
    private static func createNamed(besides path: String) throws -> (Int32, String) {
        var attempt = 0
        while true {
            let candidate = uniqueName(besides: path)
            let f = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if f >= 0 { return (f, candidate) }
            attempt += 1
            if errno != EEXIST || attempt > 16 { throw OutputError.cannotCreate(path: candidate, errno: Errno(errno)) }
        }
    }

    static func uniqueName(besides path: String) -> String {
        "\(path).tmp-\(getpid())-\(String(UInt64.random(in: 0 ... UInt64.max), radix: 36))"
    }

    deinit { discard() }

    /// Appends bytes (buffered).
    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > AtomicOutput.bufferLimit { try flush() }
        // Large pieces (whole chunks) go straight to the kernel: copying them into the buffer
        // first would add a pass over every byte.
        if bytes.count >= AtomicOutput.directLimit {
            try flush()
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
        offset += bytes.count
    }

    public func write(_ bytes: [UInt8]) throws { try bytes.withUnsafeBytes { try write($0) } }

    /// Appends zero bytes up to the next multiple of `alignment`.
    public func pad(to alignment: Int) throws {
        let r = offset % alignment
        if r != 0 { try write([UInt8](repeating: 0, count: alignment - r)) }
    }

    /// Reserves the next `count` bytes and lets `fill` write them in any order, from any
    /// number of threads at once (disjoint ranges, `pwrite`), then moves the append position
    /// past them. `fill` must cover every byte of the region.
    public func fillRegion(count: Int, _ fill: (PositionalWriter) throws -> Void) throws {
        try flush()
        let start = offset
        try fill(PositionalWriter(fd: fd, path: finalPath, base: start, count: count))
        guard lseek(fd, off_t(start + count), SEEK_SET) >= 0 else { throw OutputError.writeFailed(path: finalPath, errno: Errno(errno)) }
        offset = start + count
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        do { try FileIO.writeAll(fd, bytes) } catch { throw OutputError.writeFailed(path: finalPath, errno: error) }
    }

    /// Flushes, optionally syncs to disk, and publishes the file at the final path.
    public func commit(sync: Bool = true) throws {
        try flush()
        if sync && fsync(fd) != 0 { throw OutputError.writeFailed(path: finalPath, errno: Errno(errno)) }
        // Refused at the start already; checked again so that a device node or FIFO put
        // there meanwhile is not replaced either.
        try OutputTarget.checkReplaceable(finalPath)
        if let temporaryPath {
            if close(fd) != 0 { fd = -1; throw OutputError.writeFailed(path: finalPath, errno: Errno(errno)) }
            fd = -1
            guard rename(temporaryPath, finalPath) == 0 else {
                throw OutputError.cannotRename(from: temporaryPath, to: finalPath, errno: Errno(errno))
            }
        } else {
            try publishAnonymous()
            let closed = close(fd)
            fd = -1
            if closed != 0 {
                let e = errno
                unlink(finalPath)
                throw OutputError.writeFailed(path: finalPath, errno: Errno(e))
            }
        }
        committed = true
        InterruptCleanup.unregister(slot)
        slot = nil
    }

    /// Links the anonymous file at the final path: directly when nothing is there, else under
    /// a unique name renamed over the existing file (a rename is the only atomic replace).
    private func publishAnonymous() throws {
        let source = AtomicOutput.procPath(fd)
        if linkat(AT_FDCWD, source, AT_FDCWD, finalPath, AT_SYMLINK_FOLLOW) == 0 { return }
        guard errno == EEXIST else { throw OutputError.cannotCreate(path: finalPath, errno: Errno(errno)) }
        var attempt = 0
        while true {
            let candidate = AtomicOutput.uniqueName(besides: finalPath)
            // Registered before it exists, so that no instant has the name unregistered.
            let s = InterruptCleanup.register(candidate)
            if linkat(AT_FDCWD, source, AT_FDCWD, candidate, AT_SYMLINK_FOLLOW) == 0 {
                defer { InterruptCleanup.unregister(s) }
                guard rename(candidate, finalPath) == 0 else {
                    let e = errno
                    unlink(candidate)
                    throw OutputError.cannotRename(from: candidate, to: finalPath, errno: Errno(e))
                }
                return
            }
            let e = errno
            InterruptCleanup.unregister(s)
            attempt += 1
            if e != EEXIST || attempt > 16 { throw OutputError.cannotCreate(path: candidate, errno: Errno(e)) }
        }
    }

    /// The name under which `/proc` shows descriptor `fd`: `linkat` follows it to the inode.
    private static func procPath(_ fd: Int32) -> String { "/proc/self/fd/\(fd)" }

    /// Drops the output: closes it (an anonymous file then vanishes) and removes a named
    /// temporary file. Nothing happens once committed.
    public func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        if !committed, let temporaryPath { unlink(temporaryPath) }
        committed = true
        InterruptCleanup.unregister(slot)
        slot = nil
    }
}

/// `O_TMPFILE` (`__O_TMPFILE | O_DIRECTORY`; Glibc's macro does not reach Swift). The value of
/// `__O_TMPFILE` is the same on x86-64 and arm64.
private let oTmpFile: Int32 = 0o20000000 | O_DIRECTORY

/// Checks made on an output path before any work: every writer calls `check`.
public enum OutputTarget {
    /// Refuses an output whose folder is missing or not writable, that exists and is not a
    /// regular file (a folder, a device node, a FIFO, a socket: writing "to" `/dev/null` must
    /// not replace it), that cannot be looked up (a symlink loop, a permission), or that is
    /// the same file as one of `inputs` (a command never modifies its source).
    public static func check(_ path: String, notOverwriting inputs: [String]) throws {
        let folder = folder(of: path)
        var st = stat()
        if stat(folder, &st) != 0 {
            if errno == ENOENT { throw OutputError.folderMissing(path: path, folder: folder) }
            throw OutputError.folderUnusable(path: path, folder: folder, errno: Errno(errno))
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else { throw OutputError.folderUnusable(path: path, folder: folder, errno: Errno(ENOTDIR)) }
        guard access(folder, W_OK) == 0 else { throw OutputError.folderNotWritable(path: path, folder: folder) }
        guard let target = try existing(path) else { return }
        for input in inputs {
            var other = stat()
            if stat(input, &other) == 0, other.st_dev == target.st_dev, other.st_ino == target.st_ino {
                throw OutputError.wouldOverwriteInput(path: path, input: input)
            }
        }
    }

    /// Refuses a path that now names something other than a regular file (or nothing).
    static func checkReplaceable(_ path: String) throws { _ = try existing(path) }

    /// What `path` names when it exists, refusing anything but a regular file. A dangling
    /// symlink counts as nothing: the output replaces the link, as `rename` does.
    private static func existing(_ path: String) throws -> stat? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT { return nil }
            throw OutputError.cannotUse(path: path, errno: Errno(errno))
        }
        let kind = FileKind(mode: st.st_mode)
        if kind == .directory { throw OutputError.isAFolder(path: path) }
        if kind != .regular { throw OutputError.notARegularFile(path: path, kind: kind) }
        return st
    }

    /// The folder part of `path`, with its slash (`./` for a bare name).
    static func folder(of path: String) -> String {
        path.lastIndex(of: "/").map { String(path[...$0]) } ?? "./"
    }
}

/// Errors creating, writing and renaming an output file.
public enum OutputError: Error, Equatable, CustomStringConvertible {
    case folderMissing(path: String, folder: String)
    case folderUnusable(path: String, folder: String, errno: Errno)
    case folderNotWritable(path: String, folder: String)
    case isAFolder(path: String)
    case notARegularFile(path: String, kind: FileKind)
    case cannotUse(path: String, errno: Errno)
    case wouldOverwriteInput(path: String, input: String)
    case cannotCreate(path: String, errno: Errno)
    case writeFailed(path: String, errno: Errno)
    case cannotRename(from: String, to: String, errno: Errno)

    public var description: String {
        switch self {
        case let .folderMissing(p, f): "\(p): the output folder \(f) does not exist"
        case let .folderUnusable(p, f, e): "\(p): the output folder \(f) cannot be used: \(e)"
        case let .folderNotWritable(p, f): "\(p): the output folder \(f) is not writable"
        case let .isAFolder(p): "\(p): the output path is a folder"
        case let .notARegularFile(p, k): "\(p): the output path is \(k), not a regular file: refusing to replace it"
        case let .cannotUse(p, e): "\(p): cannot use the output path: \(e)"
        case let .wouldOverwriteInput(p, i): "\(p): the output is the input \(i): refusing to overwrite it"
        case let .cannotCreate(p, e): "\(p): cannot create: \(e)"
        case let .writeFailed(p, e): "\(p): write failed: \(e)"
        case let .cannotRename(f, t, e): "cannot rename \(f) to \(t): \(e)"
        }
    }
}

/// Writes into a region of an `AtomicOutput` by offset (`pwrite`); safe to use from several
/// threads at once for disjoint ranges.
public struct PositionalWriter: Sendable {
    let fd: Int32
    let path: String
    let base: Int
    /// The region's size in bytes.
    public let count: Int

    /// Writes `bytes` at `offset` within the region.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(OutputError) {
        precondition(offset >= 0 && offset + bytes.count <= count, "write outside the region")
        do { try FileIO.writeAll(fd, bytes, at: base + offset) } catch { throw .writeFailed(path: path, errno: error) }
    }
}

/// Removes the temporary files of outputs in progress when the process is interrupted
/// (SIGINT, SIGTERM, SIGHUP), then dies of the same signal: Ctrl-C during `convert` leaves
/// nothing behind. The handler only reads a fixed C table and calls `unlink`, both
/// async-signal-safe.
public enum InterruptCleanup {
    static let capacity = 64
    nonisolated(unsafe) static let table: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> = {
        let t = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: capacity)
        t.initialize(repeating: nil, count: capacity)
        return t
    }()
    static let lock = HeapMutex()

    /// Installs the handler (idempotent). The CLI calls this before writing.
    public static func install() {
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { sig in
                for i in 0 ..< InterruptCleanup.capacity {
                    if let p = InterruptCleanup.table[i] { unlink(p) }
                }
                signal(sig, SIG_DFL)
                raise(sig)
            }
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, nil)
        }
    }

    static func register(_ path: String) -> Int? {
        lock.withLock {
            for i in 0 ..< capacity where table[i] == nil {
                table[i] = strdup(path)
                return i
            }
            return nil
        }
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        let p = lock.withLock {
            let p = table[slot]
            // Cleared before freed, so the handler never reads a freed path.
            table[slot] = nil
            return p
        }
        free(p)
    }
}
