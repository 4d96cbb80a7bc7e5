import Dispatch
import Testing
import LatteSystem

/// The retrying reads and writes: every byte through, from several threads at once with
/// `pwrite`, and a read short only at the end of the file.
@Suite struct FileIOTests {
    private func temporaryFile() throws -> (fd: Int32, path: String) {
        var template = Array("/tmp/latte-fileio-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        return (fd, String(cString: template))
    }

    @Test func positionalWritesFromManyThreadsLandWhereAsked() throws {
        let (fd, path) = try temporaryFile()
        defer { close(fd); unlink(path) }
        let pieces = 64, size = 4099 // not a page multiple: pieces straddle pages
        DispatchQueue.concurrentPerform(iterations: pieces) { i in
            let bytes = [UInt8](repeating: UInt8(i), count: size)
            bytes.withUnsafeBytes { try! FileIO.writeAll(fd, $0, at: i * size) }
        }
        var back = [UInt8](repeating: 0xFF, count: pieces * size + 100)
        let reader = try FileIO.openForReading(path)
        defer { close(reader) }
        let n = try back.withUnsafeMutableBytes { try FileIO.read(reader, into: $0) }
        #expect(n == pieces * size)
        for i in 0 ..< pieces {
            #expect(back[i * size ..< (i + 1) * size].allSatisfy { $0 == UInt8(i) }, "piece \(i)")
        }
    }

    @Test func appendingWritesFollowTheFilePosition() throws {
        let (fd, path) = try temporaryFile()
        defer { close(fd); unlink(path) }
        try Array("hello, ".utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0) }
        try Array("world".utf8).withUnsafeBytes { try FileIO.writeAll(fd, $0) }
        try [UInt8]().withUnsafeBytes { try FileIO.writeAll(fd, $0) }
        #expect(try FileIO.status(fd).st_size == 12)
        #expect(try FileIO.status(path: path).st_size == 12)
        let reader = try FileIO.openForReading(path)
        defer { close(reader) }
        var head = [UInt8](repeating: 0, count: 5)
        #expect(try head.withUnsafeMutableBytes { try FileIO.read(reader, into: $0) } == 5)
        #expect(head == Array("hello".utf8))
    }

    @Test func failuresCarryTheirErrno() throws {
        #expect(throws: Errno(ENOENT)) { try FileIO.openForReading("/nonexistent/latte-fileio") }
        #expect(throws: Errno(EBADF)) {
            try [UInt8](repeating: 0, count: 4).withUnsafeBytes { try FileIO.writeAll(-1, $0) }
        }
        #expect(throws: Errno(ENOENT)) { try FileIO.status(path: "/nonexistent/latte-fileio") }
    }
}
