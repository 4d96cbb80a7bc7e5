// LatteSystem: latte's one home for system calls, internal to the package (`package`
// access, no product). Linux only: latte is built and tested on Linux (glibc), so there is
// no Darwin branch here or anywhere else. What lives here:
//
// - the C library itself, re-exported below,
// - reads and writes that retry short transfers and EINTR (`FileIO`),
// - `madvise` over whole pages (`advise(_:_:)`, `PageAdvice`),
// - facts about the machine (`SystemInfo`) and the monotonic clock (`monotonicSeconds()`),
// - the lock every module uses (`HeapMutex`).
//
// Why re-export Glibc: the modules call well over a hundred C functions and constants
// (mmap, stat, strerror, memcmp, expf, ...). Wrapping each would be a second libc API for a
// newcomer to learn; re-exporting it from here keeps the platform decision, and the
// `#if`, in this one file, and every other file says `import LatteSystem`.
#if os(Linux)
@_exported import Glibc
#else
#error("latte is built and tested on Linux only (see Sources/LatteSystem/Exports.swift)")
#endif
