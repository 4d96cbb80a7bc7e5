#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `path`, replacing what is there; stops the test run when it cannot.
public func writeFile(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "cannot create \(path): errno \(errno)")
    defer { close(fd) }
    bytes.withUnsafeBytes { b in
        var done = 0
        while done < b.count {
            let n = write(fd, b.baseAddress! + done, b.count - done)
            if n < 0 && errno == EINTR { continue }
            precondition(n > 0, "cannot write \(path): errno \(errno)")
            done += n
        }
    }
}

/// The bytes of `path` ([] when it cannot be read).
public func readFile(_ path: String) -> [UInt8] {
    guard let f = fopen(path, "rb") else { return [] }
    defer { fclose(f) }
    var out: [UInt8] = []
    var buf = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buf.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n == 0 { break }
        out += buf[0 ..< n]
    }
    return out
}

public func fileExists(_ path: String) -> Bool { access(path, F_OK) == 0 }

/// Names in the folder `path`, sorted, without "." and ".." ([] when it cannot be read).
public func listFolder(_ path: String) -> [String] {
    guard let dir = opendir(path) else { return [] }
    defer { closedir(dir) }
    var names: [String] = []
    while let ent = readdir(dir) {
        let name = withUnsafePointer(to: ent.pointee.d_name) { $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) } }
        if name != "." && name != ".." { names.append(name) }
    }
    return names.sorted()
}
