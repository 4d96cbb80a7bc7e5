import Foundation

/// A /proc file read to its end: `String(contentsOfFile:)` trusts the size that /proc
/// reports (zero or one page) and returns a prefix of a long `maps`.
public func procText(_ path: String) -> String {
    guard let h = FileHandle(forReadingAtPath: path) else { return "" }
    defer { try? h.close() }
    return String(decoding: h.readDataToEndOfFile(), as: UTF8.self)
}

/// Paths the process `pid` has open or mapped, from /proc.
public func openPaths(_ pid: Int32) -> [String] {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    let links = fds.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\($0)") }
    let maps = procText("/proc/\(pid)/maps")
    let mapped = maps.split(separator: "\n").compactMap { line in line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(5).first.map(String.init) }
    return links + mapped
}

/// The `latte-reference-*` entries of the temporary folder (where earlier versions unpacked
/// embedded references): none may appear while a reference is checked.
public func referenceFolders() -> Set<String> {
    let tmp = FileManager.default.temporaryDirectory.path
    return Set(((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.hasPrefix("latte-reference-") })
}
