import Dispatch
import Testing
import LatteSystem

/// The package's lock: state changed from many threads at once loses no update.
@Suite struct HeapMutexTests {
    @Test func guardsItsStateAcrossThreads() {
        let counter = HeapMutex(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0 ..< 20_000 { counter.withLock { $0 += 1 } }
        }
        #expect(counter.withLock { $0 } == 160_000)
    }

    @Test func aLockWithoutStateGuardsACriticalSection() {
        final class Box: @unchecked Sendable { var value = 0 } // guarded by `lock` below
        let lock = HeapMutex(), box = Box()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0 ..< 20_000 { lock.withLock { box.value += 1 } }
        }
        #expect(box.value == 160_000)
    }

    @Test func typedErrorsPassThrough() {
        enum Refused: Error, Equatable { case over }
        let ledger = HeapMutex(10)
        #expect(throws: Refused.over) {
            try ledger.withLock { (v: inout Int) throws(Refused) in
                guard v >= 20 else { throw .over }
                v -= 20
            }
        }
        #expect(ledger.withLock { $0 } == 10)
    }
}
