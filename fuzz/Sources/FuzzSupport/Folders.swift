#if canImport(Glibc)
import Glibc
#endif

/// The names in a folder, "." and ".." left out, sorted: what the harnesses check a failed
/// write left behind.
public func listFolder(_ dir: String) -> [String] {
    var out: [String] = []
    if let d = opendir(dir) {
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { out.append(name) }
        }
        closedir(d)
    }
    return out.sorted()
}

/// Removes a folder and the files in it (one level: the harnesses make no deeper trees).
public func removeTree(_ dir: String) {
    for name in listFolder(dir) { unlink(dir + "/" + name) }
    rmdir(dir)
}
