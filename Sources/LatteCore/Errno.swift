import LatteSystem

/// The `errno` type of the errors this package throws (defined with the system calls, in
/// LatteSystem), named here so that users of LatteCore's errors need not import that module.
public typealias Errno = LatteSystem.Errno
