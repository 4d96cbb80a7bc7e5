#if canImport(Glibc)
import Glibc
#endif

/// Writes a line to stderr (fd 2), flattened to one line as the error contract asks.
func printError(_ message: String) {
    let line = message.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n"
    writeAll(2, line)
}

/// Writes text to stdout (fd 1) without an extra newline.
func writeOut(_ text: String) {
    writeAll(1, text)
}

/// `write(2)` until every byte is out; a closed pipe just stops the output.
func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)
    bytes.withUnsafeMutableBytes { buf in
        var off = 0
        while off < buf.count {
            let n = write(fd, buf.baseAddress! + off, buf.count - off)
            if n <= 0 { if errno == EINTR { continue } else { return } }
            off += n
        }
    }
}
