/// Reads, writes and opens on file descriptors, with the retries POSIX leaves to callers:
/// a transfer may be short and any call may be interrupted by a signal (`EINTR`), so each
/// loop here goes on until every byte is through or a real error comes back.
package enum FileIO {
    /// Writes every byte of `bytes` to `fd` at its file position (`write(2)`).
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) throws(Errno) {
        try transfer(bytes) { done in write(fd, bytes.baseAddress! + done, bytes.count - done) }
    }

    /// Writes every byte of `bytes` to `fd` at `offset` (`pwrite(2)`: the file position is
    /// unchanged, so threads may write disjoint ranges of one file at once).
    package static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int) throws(Errno) {
        try transfer(bytes) { done in pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done)) }
    }

    /// Reads from `fd` into `buffer` until it is full or the file ends (`read(2)`), and
    /// returns the bytes read: fewer than `buffer.count` only at the end of the file.
    package static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(Errno) -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.read(fd, buffer.baseAddress! + done, buffer.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .last
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Opens `path` read-only for latte's readers: `O_NONBLOCK` makes `open` return at once
    /// on a FIFO (which would otherwise block until some writer opened it), `O_NOCTTY`
    /// keeps a terminal device from becoming ours, `O_CLOEXEC` keeps the descriptor out of
    /// child processes. On a regular file `O_NONBLOCK` has no effect on reads.
    package static func openForReading(_ path: String) throws(Errno) -> Int32 {
        while true {
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
            if fd >= 0 { return fd }
            if errno != EINTR { throw .last }
        }
    }

    /// `fstat(2)` of an open descriptor.
    package static func status(_ fd: Int32) throws(Errno) -> stat {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .last }
        return st
    }

    /// `stat(2)` of a path (symbolic links followed).
    package static func status(path: String) throws(Errno) -> stat {
        var st = stat()
        guard stat(path, &st) == 0 else { throw .last }
        return st
    }

    /// Runs `step` (given the bytes done so far, returning what one call transferred or -1)
    /// until all of `bytes` is through. A call that transfers nothing of a non-empty rest
    /// fails with EIO rather than loop forever.
    private static func transfer(_ bytes: UnsafeRawBufferPointer, _ step: (Int) -> Int) throws(Errno) {
        var done = 0
        while done < bytes.count {
            let n = step(done)
            if n < 0 {
                if errno == EINTR { continue }
                throw .last
            }
            if n == 0 { throw Errno(EIO) }
            done += n
        }
    }
}
