import Testing
import LatteSystem

/// Dropping rounds inward: only whole pages inside the range go, a page shared with bytes
/// outside it is kept (an anonymous private map shows it: dropped pages read back as zeros).
@Suite struct PageAdviceTests {
    @Test func droppingKeepsPagesSharedWithBytesOutsideTheRange() throws {
        let page = SystemInfo.pageSize, length = 4 * page
        let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let base = try #require(m == MAP_FAILED ? nil : m)
        defer { munmap(base, length) }
        let bytes = UnsafeMutableRawBufferPointer(start: base, count: length)
        for i in bytes.indices { bytes[i] = 0xAA }

        advise(UnsafeRawBufferPointer(rebasing: bytes[100 ..< 3 * page + 100]), .drop)
        #expect(bytes[0 ..< page].allSatisfy { $0 == 0xAA })
        #expect(bytes[page ..< 3 * page].allSatisfy { $0 == 0 })
        #expect(bytes[3 * page ..< length].allSatisfy { $0 == 0xAA })

        // A range inside one page drops nothing.
        for i in bytes.indices { bytes[i] = 0xAA }
        advise(UnsafeRawBufferPointer(rebasing: bytes[page + 1 ..< 2 * page - 1]), .drop)
        #expect(bytes.allSatisfy { $0 == 0xAA })
    }

    /// Populating for writing maps whole pages inside the range only (a caller's buffer may
    /// share its end pages with other objects) and never changes a byte.
    @Test func populatingForWritingStaysInsideTheRangeAndKeepsTheBytes() throws {
        let page = SystemInfo.pageSize, length = 4 * page
        let m = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        let base = try #require(m == MAP_FAILED ? nil : m)
        defer { munmap(base, length) }
        let bytes = UnsafeMutableRawBufferPointer(start: base, count: length)
        func resident() -> [Bool] {
            var vec = [UInt8](repeating: 0, count: 4)
            _ = mincore(base, length, &vec)
            return vec.map { $0 & 1 == 1 }
        }
        #expect(resident() == [false, false, false, false])
        advise(UnsafeRawBufferPointer(rebasing: bytes[100 ..< 3 * page + 100]), .populateWrite)
        // Kernels before 5.14 lack MADV_POPULATE_WRITE: the hint is then a no-op.
        let after = resident()
        #expect(after == [false, true, true, false] || after == [false, false, false, false], "\(after)")
        #expect(bytes.allSatisfy { $0 == 0 })

        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 7) }
        advise(UnsafeRawBufferPointer(bytes), .populateWrite)
        #expect(bytes.indices.allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
    }
}
