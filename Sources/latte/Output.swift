import LatteSystem
import LatteCore

/// Writes a message to stderr (fd 2) as one line, as the error contract asks: newlines,
/// terminal escapes and every other control character in it (a tensor name, a metadata
/// value, a path from a file) are printed as visible escapes (`\n`, `\x1b`).
func printError(_ message: String) {
    writeAll(2, escapingControlCharacters(message) + "\n")
}

/// Writes human-readable text to stdout: the text's own line breaks are kept, and any other
/// control character in a line (from a file's names or metadata) is printed escaped.
func writeText(_ text: String) {
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    writeAll(1, lines.map { escapingControlCharacters(String($0)) }.joined(separator: "\n"))
}

/// Writes text to stdout (fd 1) as it is: JSON documents, whose serializer already escapes
/// control characters.
func writeOut(_ text: String) {
    writeAll(1, text)
}

/// Writes every byte of `text` to `fd`; a closed pipe just stops the output.
func writeAll(_ fd: Int32, _ text: String) {
    Array(text.utf8).withUnsafeBytes { _ = try? FileIO.writeAll(fd, $0) }
}
