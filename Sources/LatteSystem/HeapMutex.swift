/// A mutex and the state it guards, the one lock type of the package.
///
/// The `pthread_mutex_t` lives in its own heap allocation, made in `init` and freed in
/// `deinit`: a mutex stored inline in a Swift object and passed as `&property` has no
/// stable address (the call may be given a temporary copy), and a mutex must never move.
/// The state is reachable only inside `withLock`, so every access to it holds the lock.
package final class HeapMutex<State> {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var state: State

    package init(_ state: State) {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        self.state = state
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` on the state with the lock held.
    package func withLock<T, E: Error>(_ body: (inout State) throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&state)
    }
}

extension HeapMutex where State == Void {
    /// A lock that guards no state of its own (a C table, a critical section).
    package convenience init() { self.init(()) }

    /// Runs `body` with the lock held.
    package func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        // Not through the stateful `withLock`: there is no state to hand out, and an inout
        // access to an empty one is still an access ThreadSanitizer checks.
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

// Safe to share: the mutex never moves and `state` is touched only with it held, so the
// threads that take the lock see its accesses in order. `State` must be Sendable itself,
// since its values pass from one of those threads to another.
extension HeapMutex: @unchecked Sendable where State: Sendable {}
