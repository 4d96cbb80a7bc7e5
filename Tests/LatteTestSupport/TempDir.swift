#if canImport(Glibc)
import Glibc
#endif

/// A fresh folder under /tmp for one test, removed with everything in it by `cleanup()`.
public struct TempDir: Sendable {
    public let path: String

    public init() {
        var template = Array("/tmp/latte-test-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed: errno \(errno)")
        path = String(cString: made!)
    }

    /// The path of `name` inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    /// Names in the folder, sorted (to check no temporary file was left behind).
    public var entries: [String] { listFolder(path) }

    public func cleanup() { removeTree(path) }
}

/// Writes `bytes` to a fresh file under /tmp (named after `name`) and returns its path.
public func temporaryFile(_ bytes: [UInt8], name: String = "f") -> String {
    let path = "/tmp/latte-test-\(getpid())-\(UInt64.random(in: 0 ... .max))-\(name)"
    writeFile(path, bytes)
    return path
}

/// Removes `path`, and everything under it when it is a folder (never following links).
public func removeTree(_ path: String) {
    var st = stat()
    guard lstat(path, &st) == 0 else { return }
    if st.st_mode & S_IFMT == S_IFDIR {
        for name in listFolder(path) { removeTree(path + "/" + name) }
        rmdir(path)
    } else {
        unlink(path)
    }
}
