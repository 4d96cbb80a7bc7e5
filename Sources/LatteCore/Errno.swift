#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `errno` of a failed system call, which messages print as its `strerror` text:
/// the one type every error that carries one uses.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// "No such file or directory", …
    public var description: String { String(cString: strerror(code)) }
}
