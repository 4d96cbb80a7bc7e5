/// The `errno` of a failed system call, which messages print as its `strerror` text: the
/// one type that every error carrying an errno uses. The wrappers here throw it; each
/// caller wraps it in its own error case, which names the file and what was being done.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let code: Int32

    public init(_ code: Int32) { self.code = code }

    /// The current thread's `errno`, taken right after a call returned its failure value.
    package static var last: Errno { Errno(Glibc.errno) }

    /// "No such file or directory", …
    public var description: String { String(cString: strerror(code)) }
}
