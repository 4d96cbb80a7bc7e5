/// A pickle virtual machine (protocols 0 to 5, as far as tensor files need) that never
/// executes or imports anything.
///
/// Globals resolve only against `TorchGlobal`'s allowlist; REDUCE, NEWOBJ and BUILD act
/// only on those, producing symbolic values (a tensor is a `TensorValue` description).
/// Every resource a hostile pickle could inflate is bounded: opcodes run, stack depth,
/// container nesting, memo entries, the bytes of values built (by the bytes read so far),
/// and every declared length is checked against the remaining input before anything is
/// allocated.
public struct PickleMachine {
    /// Resource limits; the defaults are far above what any real checkpoint pickle needs.
    public struct Limits: Sendable {
        public var maxOpcodes = 50_000_000
        public var maxStackDepth = 100_000
        public var maxNesting = 1_000
        public var maxMemoEntries = 1 << 24
        /// LONG1/LONG4 integers: torch's largest is the 10-byte legacy magic number.
        public var maxIntegerBytes = 256
        /// What the values alive may cost (containers and their items while they live;
        /// memo entries, tensors, storages once made; see `Cost`), per byte of pickle read
        /// so far: at every opcode, cost ≤ `allocationBytesPerInputByte` × bytes read +
        /// `allocationAllowance`. A pickle is a program, and a one-byte opcode can build a
        /// 100-byte object (TUPLE1, REDUCE of memoized arguments, MEMOIZE): without this,
        /// memory would follow the opcodes run, not the bytes present. torch's own pickles
        /// peak at 4.5 to 6.3 bytes per byte (the reader fixtures, protocols 2 and 4,
        /// checked by `PickleBudgetTests`), so 16 leaves 2.5 times that; the allowance lets
        /// a small pickle build its few thousand objects whatever their shape.
        public var allocationBytesPerInputByte = 16
        public var allocationAllowance = 16 << 20
        /// And whatever the pickle's size: with an array's growth (the old buffer and the
        /// new, at most 1.5 times this) and the file mapped, a pickle stays inside the
        /// 1 GiB memory budget. torch's pickles would need 48 MB, some 400,000 tensors,
        /// to come near it; real ones are a few MB at most (a shard of a few hundred tensors).
        public var maxAllocationBytes = 384 << 20
        public init() {}
    }

    /// What each value built is charged, in bytes: close to what it really takes on the
    /// heap (an object header and its fields, an array slot of 16 bytes per value, arrays
    /// by their capacity, not their count).
    enum Cost {
        static let box = 64
        static let item = 16
        static let entry = 32
        /// A memo entry a GET reads: a dictionary slot (key, value, hash, load factor).
        static let memoValue = 64
        /// A memo index put out of order, remembered in a set to count the entries.
        static let memoHole = 32
        static let storage = 96
        static let tensor = 160
        static let global = 64
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) { self.limits = limits }

    /// The value a pickle unpickles to, and where its STOP opcode ended.
    public struct Result {
        public var value: PickleValue
        /// Bytes consumed, STOP included (the legacy format concatenates pickles).
        public var length: Int
        /// Keeps the containers that may sit on a cycle until `release()`; see `PickleBox`.
        fileprivate var arena: Arena

        /// The most the values built were charged at once against the allocation budget.
        var peakBytesCharged: Int { arena.peak }

        /// Empties the containers that may hold cycles, so that they are freed too. Values
        /// taken from the result must not be used afterwards.
        public func release() { arena.release() }
    }

    /// Makes every container and charges what the machine builds against its budget.
    final class Arena {
        let maxNesting: Int
        let bytesPerInputByte: Int
        let allowance: Int
        let maxBytes: Int
        /// Bytes read so far: the budget grows with them.
        var inputBytes = 0
        /// Live boxes refund their cost when they die; other values (tensors, storages,
        /// memo entries) are counted once made.
        let ledger = PickleLedger()
        var peak = 0
        /// Boxes that were given a container after they were made: only they can close a cycle.
        var mayCycle: [PickleBox] = []
        /// `()`: immutable, so one box serves every empty tuple (as in CPython).
        let emptyTuple = PickleBox()

        init(limits: PickleMachine.Limits) {
            maxNesting = limits.maxNesting
            bytesPerInputByte = limits.allocationBytesPerInputByte
            allowance = limits.allocationAllowance
            maxBytes = limits.maxAllocationBytes
        }

        /// The budget now: it grows with the bytes read, up to `maxBytes`.
        var limit: Int {
            let (scaled, o1) = inputBytes.multipliedReportingOverflow(by: bytesPerInputByte)
            let (sum, o2) = scaled.addingReportingOverflow(allowance)
            return o1 || o2 ? maxBytes : min(sum, maxBytes)
        }

        /// Refuses `bytes` more when they would not fit the budget.
        func check(_ bytes: Int) throws(PickleError) {
            let (total, o) = ledger.live.addingReportingOverflow(bytes)
            guard !o, total <= limit else {
                throw .allocationBudgetExceeded(limit: limit, inputBytes: inputBytes, perByte: bytesPerInputByte,
                                                allowance: allowance, cap: maxBytes)
            }
        }

        /// Counts `bytes` against the budget, refusing them beyond it.
        func charge(_ bytes: Int) throws(PickleError) {
            try check(bytes)
            ledger.live += bytes
            peak = max(peak, ledger.live)
        }

        /// Makes room for `extra` more elements in `array`, charging the capacity added.
        /// Swift doubles a full array's buffer: the doubled size is checked before the
        /// buffer exists, and what was really allocated is counted.
        func grow<T>(_ array: inout [T], by extra: Int, unit: Int) throws(PickleError) {
            let needed = array.count + extra
            let before = array.capacity
            guard needed > before else { return }
            let target = max(needed, 2 * before)
            try check((target - before) * unit)
            array.reserveCapacity(target)
            try charge((array.capacity - before) * unit)
        }

        func depth(of v: PickleValue) -> Int {
            switch v {
            case let .list(b), let .tuple(b), let .dict(b), let .set(b): Int(b.depth)
            default: 0
            }
        }

        /// A new box holding `items`, charged and its nesting checked.
        func make(_ items: [PickleValue] = []) throws(PickleError) -> PickleBox {
            try charge(Cost.box + items.capacity * Cost.item)
            let b = PickleBox(items: items, ledger: ledger)
            try noteChildren(of: b, items, isNew: true)
            return b
        }

        /// Records that `children` went into `b`: its depth, bounded; and, when `b` existed
        /// before and a child is a container, that `b` may now close a cycle.
        func noteChildren(of b: PickleBox, _ children: [PickleValue], isNew: Bool) throws(PickleError) {
            var d = Int(b.depth)
            var container = false
            for c in children {
                let cd = depth(of: c)
                if cd > 0 { container = true; d = max(d, cd + 1) }
            }
            guard d <= maxNesting else { throw .nestingTooDeep(limit: maxNesting) }
            b.depth = Int32(d)
            if container, !isNew, !b.inArena {
                b.inArena = true
                mayCycle.append(b)
            }
        }

        func release() {
            for b in mayCycle {
                ledger.live -= b.cost - Cost.box
                b.items.removeAll()
                b.entries.removeAll()
            }
            mayCycle.removeAll()
        }
    }

    /// Runs the pickle at the start of `input` up to its STOP opcode.
    public func run(_ input: UnsafeRawBufferPointer) throws(PickleError) -> Result {
        var vm = PickleRun(input: input, limits: limits)
        do {
            let value = try vm.execute()
            return Result(value: value, length: vm.pos, arena: vm.arena)
        } catch {
            vm.stack.removeAll()
            vm.memoValues.removeAll()
            vm.arena.release()
            throw error
        }
    }
}
