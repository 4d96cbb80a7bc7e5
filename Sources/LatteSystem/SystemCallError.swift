/// The `errno` of a system call that failed. The wrappers here throw it; each caller turns
/// it into its own error case, which names the file and what was being done.
package struct SystemCallError: Error, Equatable {
    package let errno: Int32

    package init(errno: Int32) { self.errno = errno }

    /// The current thread's `errno`, taken right after a call returned its failure value.
    static var last: SystemCallError { SystemCallError(errno: Glibc.errno) }
}
