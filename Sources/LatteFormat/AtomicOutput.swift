#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An output written beside its final path under a unique temporary name and renamed over
/// it only when complete: readers of the final path never see a partial file.
/// `discard()` (or deinit without `commit()`) removes the temporary file.
public final class AtomicOutput {
    public let finalPath: String
    public let tempPath: String
    private var fd: Int32
    private var committed = false
    /// Where the signal handler finds our temporary path (nil when the table is full).
    private var slot: Int?
    /// Bytes written so far (the current offset).
    public private(set) var offset = 0
    private var buffer: [UInt8] = []
    private static let bufferLimit = 4 << 20
    private static let directLimit = 256 << 10

    /// Creates the temporary file in the output's folder (`O_EXCL`, mode 0644).
    public init(path: String) throws {
        // Past a file-size limit (`ulimit -f`) the kernel would kill us with SIGXFSZ and
        // leave the temporary file; ignored, the write fails with EFBIG and we clean up.
        signal(SIGXFSZ, SIG_IGN)
        finalPath = path
        var attempt = 0
        while true {
            let tag = String(UInt64.random(in: 0 ... UInt64.max), radix: 36)
            let candidate = "\(path).tmp-\(getpid())-\(tag)"
            let f = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if f >= 0 {
                fd = f
                tempPath = candidate
                slot = InterruptCleanup.register(candidate)
                break
            }
            attempt += 1
            if errno != EEXIST || attempt > 16 { throw OutputError.cannotCreate(path: candidate, errno: errno) }
        }
        buffer.reserveCapacity(AtomicOutput.bufferLimit)
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
        try fill(PositionalWriter(fd: fd, path: tempPath, base: start, count: count))
        guard lseek(fd, off_t(start + count), SEEK_SET) >= 0 else { throw OutputError.writeFailed(path: tempPath, errno: errno) }
        offset = start + count
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = sysWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError.writeFailed(path: tempPath, errno: errno)
            }
            done += n
        }
    }

    /// Flushes, optionally syncs to disk, closes and renames over the final path.
    public func commit(sync: Bool = true) throws {
        try flush()
        if sync && fsync(fd) != 0 { throw OutputError.writeFailed(path: tempPath, errno: errno) }
        if close(fd) != 0 { fd = -1; throw OutputError.writeFailed(path: tempPath, errno: errno) }
        fd = -1
        guard rename(tempPath, finalPath) == 0 else { throw OutputError.cannotRename(from: tempPath, to: finalPath, errno: errno) }
        committed = true
        InterruptCleanup.unregister(slot)
        slot = nil
    }

    /// Closes and removes the temporary file (nothing if already committed).
    public func discard() {
        if fd >= 0 { close(fd); fd = -1 }
        if !committed { unlink(tempPath); committed = true }
        InterruptCleanup.unregister(slot)
        slot = nil
    }
}

/// Checks made on an output path before any work: every writer calls `check`.
public enum OutputTarget {
    /// Refuses an output whose folder is missing or not writable, that is a folder, or
    /// that is the same file as one of `inputs` (a command never modifies its source).
    public static func check(_ path: String, notOverwriting inputs: [String]) throws {
        let folder = path.lastIndex(of: "/").map { String(path[...$0]) } ?? "./"
        var st = stat()
        guard stat(folder, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw OutputError.folderMissing(path: path, folder: folder) }
        guard access(folder, W_OK) == 0 else { throw OutputError.folderNotWritable(path: path, folder: folder) }
        guard stat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw OutputError.isAFolder(path: path) }
        for input in inputs {
            var other = stat()
            if stat(input, &other) == 0, other.st_dev == st.st_dev, other.st_ino == st.st_ino {
                throw OutputError.wouldOverwriteInput(path: path, input: input)
            }
        }
    }
}

/// Errors creating, writing and renaming an output file.
public enum OutputError: Error, Equatable, CustomStringConvertible {
    case folderMissing(path: String, folder: String)
    case folderNotWritable(path: String, folder: String)
    case isAFolder(path: String)
    case wouldOverwriteInput(path: String, input: String)
    case cannotCreate(path: String, errno: Int32)
    case writeFailed(path: String, errno: Int32)
    case cannotRename(from: String, to: String, errno: Int32)

    public var description: String {
        switch self {
        case let .folderMissing(p, f): "\(p): the output folder \(f) does not exist"
        case let .folderNotWritable(p, f): "\(p): the output folder \(f) is not writable"
        case let .isAFolder(p): "\(p): the output path is a folder"
        case let .wouldOverwriteInput(p, i): "\(p): the output is the input \(i): refusing to overwrite it"
        case let .cannotCreate(p, e): "\(p): cannot create: \(String(cString: strerror(e)))"
        case let .writeFailed(p, e): "\(p): write failed: \(String(cString: strerror(e)))"
        case let .cannotRename(f, t, e): "cannot rename \(f) to \(t): \(String(cString: strerror(e)))"
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
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(base + offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw OutputError.writeFailed(path: path, errno: errno)
            }
            done += n
        }
    }
}

/// `write(2)`; named apart so the method `write` above does not shadow it.
private func sysWrite(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { write(fd, p, n) }

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
    nonisolated(unsafe) static var lock = pthread_mutex_t()
    nonisolated(unsafe) static var lockReady: Bool = {
        pthread_mutex_init(&lock, nil)
        return true
    }()

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
        _ = lockReady
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        for i in 0 ..< capacity where table[i] == nil {
            table[i] = strdup(path)
            return i
        }
        return nil
    }

    static func unregister(_ slot: Int?) {
        guard let slot else { return }
        _ = lockReady
        pthread_mutex_lock(&lock)
        let p = table[slot]
        // Cleared before freed, so the handler never reads a freed path.
        table[slot] = nil
        pthread_mutex_unlock(&lock)
        free(p)
    }
}
