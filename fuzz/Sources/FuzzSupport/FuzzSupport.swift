/// libFuzzer's driver (`LLVMFuzzerRunDriver`, compiler-rt): runs the fuzzing loop with our
/// callback. We call it from `main` because SwiftPM renames an executable's `main`, so
/// libFuzzer's own `main` is never linked.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<Int32>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32
) -> Int32

nonisolated(unsafe) private var body: ((UnsafeRawBufferPointer) -> Void)?

/// Runs `test` on every input libFuzzer generates; a thrown error inside is the caller's
/// business (targets treat errors as normal outcomes), a crash or hang is a finding.
public func runFuzzer(_ test: @escaping (UnsafeRawBufferPointer) -> Void) -> Never {
    body = test
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        body!(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
    exit(status)
}

#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to a per-process file in /dev/shm (memory-backed) and returns its path:
/// for readers that map files rather than take buffers.
public func writeInputFile(_ bytes: UnsafeRawBufferPointer, tag: String) -> String {
    let path = "/dev/shm/latte-fuzz-\(tag)-\(getpid())"
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot write \(path)") }
    if let base = bytes.baseAddress { _ = write(fd, base, bytes.count) }
    close(fd)
    return path
}

/// Reports a broken expectation and aborts, which libFuzzer counts as a crash and saves the
/// input for. (`precondition` drops its message in optimized builds.)
public func finding(_ message: String) -> Never {
    let line = Array("FINDING: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    abort()
}
