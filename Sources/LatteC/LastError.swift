import LatteCore
import LatteFormat
import LatteSystem

// The last error of the calling thread: a thread-local C string, so concurrent calls on one
// handle never overwrite each other's message, and `latte_open`, which has no handle yet,
// reports the same way as every other call.

/// The pthread key holding each thread's message (malloc'd; freed with the thread).
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

/// Records `message` as this thread's last error.
func setLastError(_ message: String) {
    free(pthread_getspecific(errorKey))
    pthread_setspecific(errorKey, strdup(message))
}

/// The calling thread's last error message, "" when none was recorded.
@_cdecl("latte_last_error")
public func latte_last_error() -> UnsafePointer<CChar> {
    if let p = pthread_getspecific(errorKey) { return UnsafePointer(p.assumingMemoryBound(to: CChar.self)) }
    return emptyString
}

/// A C string that lives as long as the process. nonisolated(unsafe): its bytes are never
/// written after they are made, so every thread may read them.
nonisolated(unsafe) private let emptyString: UnsafePointer<CChar> = UnsafePointer(strdup("")!)

/// The ABI's status codes (include/latte.h).
enum Status: Int32 {
    case ok = 0
    case argument = 1
    case notFound = 2
    case io = 3
    case format = 4
    case write = 5
}

/// Runs `body`; a thrown error becomes `failure`'s code and the thread's last error, the
/// message the CLI prints after `error: `.
func guarded(_ failure: (any Error) -> Status, _ body: () throws -> Void) -> Int32 {
    do {
        try body()
        return Status.ok.rawValue
    } catch let e as ABIError {
        setLastError(e.message)
        return e.status.rawValue
    } catch {
        setLastError(message(of: error))
        return failure(error).rawValue
    }
}

/// The CLI's message for `error`, except that a missing base is asked for the C way.
func message(of error: any Error) -> String {
    if let located = error as? LocatedError, let missing = located.underlying as? BaseReadError, case .baseNeeded = missing {
        let reworded = Reworded(description: missing.description(howToGiveTheBase: baseHint))
        return String(describing: LocatedError(path: located.path, tensor: located.tensor, reworded))
    }
    return String(describing: error)
}

/// An error's message in other words, located like the original.
private struct Reworded: Error, CustomStringConvertible {
    let description: String
}

/// How a C caller gives the base; the Python package rewords exactly this phrase.
let baseHint = "open the file with latte_open_with_base"

/// A misuse of the ABI (a null pointer, an index out of range, a buffer of the wrong size)
/// or a name that is not there.
struct ABIError: Error {
    let status: Status
    let message: String

    static func argument(_ m: String) -> ABIError { ABIError(status: .argument, message: m) }
}

/// What opening failed on: the file itself (missing, unreadable) or its contents.
func openFailure(_ error: any Error) -> Status {
    ((error as? LocatedError)?.underlying is FileAccessError) || error is FileAccessError ? .io : .format
}
