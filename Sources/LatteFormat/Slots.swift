/// Results written by worker threads, one slot each, read after the workers' group is done.
/// Separate heap slots: a Swift array mutated from several threads at once is a data race
/// even when the indices differ.
///
/// Unchecked Sendable: the pointer never changes, each slot has one writer, and the readers
/// read only after the workers are done (`DispatchGroup.wait`, `concurrentPerform`
/// returning), which orders the writes before them.
final class Slots<T>: @unchecked Sendable {
    private let slots: UnsafeMutablePointer<T?>
    let count: Int

    init(_ n: Int) {
        count = n
        slots = .allocate(capacity: max(n, 1))
        slots.initialize(repeating: nil, count: n)
    }

    deinit {
        slots.deinitialize(count: count)
        slots.deallocate()
    }

    subscript(i: Int) -> T? {
        get { slots[i] }
        set { slots[i] = newValue }
    }
}
