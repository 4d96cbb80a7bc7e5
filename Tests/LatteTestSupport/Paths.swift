/// The package's root folder, found from this file (Tests/LatteTestSupport/Paths.swift).
public let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

/// The shared fixtures folder (fixtures/, a symlink in a local checkout).
public let fixturesRoot = packageRoot + "/fixtures"

/// The path of `relative` inside fixtures/.
public func fixturePath(_ relative: String) -> String { fixturesRoot + "/" + relative }
