import Testing
import LatteCore
@testable import LatteReaders

/// The pickle machine's memory follows the bytes present (issue 10, class 3): what it
/// builds is charged while it lives, memo entries nobody reads hold nothing, and floods of
/// one-byte opcodes are either free (garbage) or refused at the budget.
@Suite struct PickleBudgetTests {
    func run(_ bytes: [UInt8], limits: PickleMachine.Limits = .init()) throws(PickleError) -> PickleMachine.Result {
        let result: Result<PickleMachine.Result, PickleError> = bytes.withUnsafeBytes { b in
            do throws(PickleError) { return .success(try PickleMachine(limits: limits).run(b)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    func error(_ bytes: [UInt8], limits: PickleMachine.Limits = .init()) -> PickleError? {
        do throws(PickleError) { try run(bytes, limits: limits).release(); return nil } catch { return error }
    }

    func isBudget(_ e: PickleError?) -> Bool {
        if case .allocationBudgetExceeded? = e { return true }
        return false
    }

    /// `count` repetitions of `unit` between PROTO and `tail` STOP.
    func flood(_ unit: [UInt8], _ count: Int, head: [UInt8] = [], tail: [UInt8] = [0x4E]) -> [UInt8] {
        var p = P.proto() + head
        p.reserveCapacity(p.count + unit.count * count + tail.count + 1)
        for _ in 0 ..< count { p += unit }
        return p + tail + [0x2E]
    }

    /// The issue's example at a twelfth of its size: EMPTY_TUPLE/POP pairs build nothing
    /// that lives (one empty tuple serves them all); EMPTY_LIST/POP pairs build garbage
    /// that is freed and refunded as it goes.
    @Test func garbageFloodsCostNothing() throws {
        let issue = try run(flood([0x29, 0x30], 2_000_000))
        #expect(issue.peakBytesCharged == 0)
        issue.release()
        for unit: [UInt8] in [[0x5D, 0x30], [0x7D, 0x30], [0x4E, 0x85, 0x30], [0x4E, 0x4E, 0x86, 0x30]] {
            let r = try run(flood(unit, 200_000))
            #expect(r.peakBytesCharged < 1024, "\(unit): \(r.peakBytesCharged)")
            r.release()
        }
    }

    @Test func retainedFloodsAreRefusedAtTheBudget() {
        // Each keeps what it builds reachable from one list: 2 bytes for a 1-tuple (a box
        // and its slot), 1 byte per slot through MARK ... APPENDS.
        let oneTuples: [UInt8] = [0x28] + [[UInt8]](repeating: [0x4E, 0x85], count: 5000).flatMap { $0 } + [0x65]
        let tuples = flood(oneTuples, 400, head: [0x5D], tail: [])
        #expect(isBudget(error(tuples)))
        let slots = flood([0x28] + [UInt8](repeating: 0x4E, count: 90_000) + [0x65], 40, head: [0x5D], tail: [])
        #expect(isBudget(error(slots)))
        // A tensor rebuilt again and again from memoized arguments: 5 bytes (BINGET f,
        // BINGET args, REDUCE) for a tensor description of 160.
        let tensor = P.tensor("FloatStorage", key: "0", numel: 4, size: [2, 2], stride: [2, 1])
        let f = P.global("torch._utils", "_rebuild_tensor_v2")
        let args = tensor[f.count ..< tensor.count - 1] // MARK ... TUPLE, without the REDUCE
        var batch: [UInt8] = [0x28]
        for _ in 0 ..< 5000 { batch += [0x68, 0, 0x68, 1, 0x52] }
        batch.append(0x65)
        var rebuild = P.proto() + f + [0x94, 0x30] + Array(args) + [0x94, 0x30, 0x5D]
        for _ in 0 ..< 200 { rebuild += batch }
        rebuild.append(0x2E)
        #expect(isBudget(error(rebuild)))
    }

    @Test func theBudgetGrowsWithTheBytesRead() {
        var small = PickleMachine.Limits()
        small.allocationAllowance = 0
        small.allocationBytesPerInputByte = 1
        // A list of 10 Nones read from 23 bytes: 64 for the box, more than 23 allowed.
        let list = P.proto() + [0x5D, 0x28] + [UInt8](repeating: 0x4E, count: 10) + [0x65, 0x2E]
        #expect(error(list, limits: small) == .allocationBudgetExceeded(limit: 2, inputBytes: 2, perByte: 1, allowance: 0, cap: 384 << 20))
        small.allocationBytesPerInputByte = 100
        #expect(error(list, limits: small) == nil)
        // The absolute cap holds whatever the size.
        small.maxAllocationBytes = 100
        #expect(isBudget(error(list, limits: small)))
    }

    /// MEMOIZE after every container, as torch writes: entries no GET reads are only
    /// counted, so the containers die at once and the memo costs nothing.
    @Test func unreadMemoEntriesHoldNothing() throws {
        let r = try run(flood([0x5D, 0x94, 0x30], 200_000))
        #expect(r.peakBytesCharged < 1024, "\(r.peakBytesCharged)")
        r.release()
        // Entries that are read are kept and charged: a list read back 100,000 times
        // from 100,000 entries, each put by MEMOIZE and fetched by LONG_BINGET.
        var p = P.proto() + [0x5D]
        for _ in 0 ..< 100_000 { p += [0x94] }
        p += [0x30, 0x28]
        for i in 0 ..< 100_000 { p += [0x6A] + P.le32(i) }
        p += [0x74, 0x2E]
        let many = try run(p)
        #expect(many.peakBytesCharged >= 100_000 * PickleMachine.Cost.memoValue)
        #expect(many.value.sequence?.count == 100_000)
        many.release()
        // Read back, an entry keeps its value: [[1], [1]] through BINPUT/BINGET.
        let shared = P.proto() + [0x5D, 0x4B, 1, 0x61, 0x71, 7, 0x30, 0x68, 7, 0x68, 7, 0x86, 0x2E]
        let s = try run(shared)
        defer { s.release() }
        guard case let .tuple(b) = s.value, case let .list(x) = b.items[0], case let .list(y) = b.items[1] else {
            Issue.record("not a tuple of lists"); return
        }
        #expect(x === y && x.items.count == 1)
    }

    @Test func memoIndicesOutOfOrderStillResolve() throws {
        // BINPUT 5, 1, 0 then MEMOIZE (index 3 = the entry count), read back in another order.
        let p = P.proto() + [0x4B, 50, 0x71, 5, 0x4B, 10, 0x71, 1, 0x4B, 0, 0x71, 0, 0x4B, 30, 0x94]
            + [0x30, 0x30, 0x30, 0x30] + [0x28, 0x68, 0, 0x68, 1, 0x68, 3, 0x68, 5, 0x74, 0x2E]
        let r = try run(p)
        defer { r.release() }
        #expect(r.value.sequence?.compactMap(\.intValue) == [0, 10, 30, 50])
        // A GET of an index only ever put out of order, then overwritten in order.
        let q = P.proto() + [0x4B, 1, 0x71, 1, 0x4B, 2, 0x71, 0, 0x4B, 3, 0x71, 1, 0x30, 0x30, 0x30, 0x68, 1, 0x2E]
        #expect(try run(q).value.intValue == 3)
        #expect(error(P.proto() + [0x4B, 1, 0x71, 2, 0x68, 1, 0x2E]) == .memoMissing(index: 1, offset: 6))
    }

    /// The memo scan reaches STOP through every argument kind, and an opcode it does not
    /// know makes it keep every entry (the machine then decides, as it always did).
    @Test func memoScanFollowsEveryArgumentKind() {
        var body: [UInt8] = [0x95, 0, 0, 0, 0, 0, 0, 0, 0] // FRAME
        body += [0x4B, 1, 0x4D, 1, 0, 0x4A, 1, 0, 0, 0, 0x47, 0, 0, 0, 0, 0, 0, 0, 0]
        body += [0x8A, 1, 1, 0x8B, 1, 0, 0, 0, 1, 0x8C, 1, 0x41, 0x58, 1, 0, 0, 0, 0x41]
        body += [0x8D, 1, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x55, 1, 0x41, 0x54, 1, 0, 0, 0, 0x41]
        body += [0x43, 1, 0x41, 0x42, 1, 0, 0, 0, 0x41, 0x8E, 1, 0, 0, 0, 0, 0, 0, 0, 0x41]
        body += [0x96, 1, 0, 0, 0, 0, 0, 0, 0, 0x41]
        body += Array("I12\nL3L\nF1.5\nS'a'\nVb\ncmod\nname\np9\n".utf8)
        body += [0x71, 2, 0x72, 3, 0, 0, 0] + Array("g7\n".utf8) + [0x68, 4, 0x6A, 5, 0, 0, 0]
        let scan = (body + [0x2E, 0x68, 6]).withUnsafeBytes { PickleMemoScan($0, maxIndex: 1 << 24) }
        #expect(scan.isRead(4) && scan.isRead(5) && scan.isRead(7))
        #expect(!scan.isRead(2) && !scan.isRead(3) && !scan.isRead(9))
        #expect(!scan.isRead(6), "after STOP")
        let unknown = ([0x4B, 1, 0xFF] + [0x2E]).withUnsafeBytes { PickleMemoScan($0, maxIndex: 1 << 24) }
        #expect(unknown.isRead(123))
        let truncated = ([0x58, 9, 0, 0, 0, 0x41] as [UInt8]).withUnsafeBytes { PickleMemoScan($0, maxIndex: 1 << 24) }
        #expect(truncated.isRead(0))
    }

    @Test func cyclesAreBrokenOnRelease() throws {
        // l = []; l.append(l); d = {}; d['d'] = d
        weak var list: PickleBox?
        weak var dict: PickleBox?
        do {
            let r = try run(P.proto() + [0x5D, 0x32, 0x61, 0x7D, 0x71, 0, 0x8C, 1, 0x64, 0x68, 0, 0x73, 0x86, 0x2E])
            guard case let .tuple(t) = r.value, case let .list(l) = t.items[0], case let .dict(d) = t.items[1] else {
                Issue.record("not a tuple"); return
            }
            list = l
            dict = d
            r.release()
        }
        #expect(list == nil && dict == nil)
    }

    @Test func deepChainsAreFreedWithoutOverflow() throws {
        // 999 nested 1-tuples (the nesting limit is 1000) and the same through DUP+TUPLE2:
        // plain reference counting frees them, nothing is kept in the arena.
        for unit: [UInt8] in [[0x85], [0x32, 0x86]] {
            let r = try run(flood(unit, 999, head: [0x4E], tail: []))
            r.release()
        }
    }

    /// torch's own pickles, as the fixtures hold them, peak at a fraction of the budget:
    /// the margin the limit's comment states.
    @Test func torchPicklesStayFarBelowTheBudget() throws {
        for name in ["all_dtypes.pt", "all_dtypes_proto4.pt", "views.pt", "module_state_dict.pt", "parameters.pt",
                     "nested.pt", "big_endian.pt", "meta_device.pt", "bare_tensor.pt"] {
            let f = try MappedFile(path: TorchFixtures.readers + name)
            let zip = try ZipArchive(bytes: f.bytes)
            let pkl = try zip.data(of: try #require(zip.record("data.pkl")), in: f.bytes)
            let r = try PickleMachine().run(pkl)
            defer { r.release() }
            let perByte = Double(r.peakBytesCharged) / Double(pkl.count)
            #expect(perByte <= 6.5, "\(name): \(perByte) bytes per byte")
        }
    }
}
