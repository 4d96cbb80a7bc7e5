import Testing
import LatteSystem

/// `advise` rounds to whole pages: dropping and populating for writing stay inside the range
/// (a page shared with bytes outside it is kept); an anonymous private map shows it.
@Suite struct PageAdviceTests {
    /// Four fresh anonymous pages, unmapped by `unmap()`.
    struct FourPages {
        let bytes: UnsafeMutableRawBufferPointer
        static let page = SystemInfo.pageSize

        init?() {
            let m = mmap(nil, 4 * Self.page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            guard let m, m != MAP_FAILED else { return nil }
            bytes = UnsafeMutableRawBufferPointer(start: m, count: 4 * Self.page)
        }

        func unmap() { munmap(bytes.baseAddress, bytes.count) }

        /// Which of the four pages are resident (`mincore`).
        func resident() -> [Bool] {
            var vec = [UInt8](repeating: 0, count: 4)
            _ = mincore(bytes.baseAddress, bytes.count, &vec)
            return vec.map { $0 & 1 == 1 }
        }
    }

    @Test func droppingKeepsPagesSharedWithBytesOutsideTheRange() throws {
        let pages = try #require(FourPages()), page = FourPages.page, bytes = pages.bytes
        defer { pages.unmap() }
        for i in bytes.indices { bytes[i] = 0xAA }

        advise(UnsafeRawBufferPointer(rebasing: bytes[100 ..< 3 * page + 100]), .drop)
        #expect(bytes[0 ..< page].allSatisfy { $0 == 0xAA })
        #expect(bytes[page ..< 3 * page].allSatisfy { $0 == 0 })
        #expect(bytes[3 * page ..< 4 * page].allSatisfy { $0 == 0xAA })

        // A range inside one page drops nothing.
        for i in bytes.indices { bytes[i] = 0xAA }
        advise(UnsafeRawBufferPointer(rebasing: bytes[page + 1 ..< 2 * page - 1]), .drop)
        #expect(bytes.allSatisfy { $0 == 0xAA })
    }

    /// Populating for writing maps whole pages inside the range only (a caller's buffer may
    /// share its end pages with other objects) and never changes a byte.
    @Test func populatingForWritingStaysInsideTheRangeAndKeepsTheBytes() throws {
        let pages = try #require(FourPages()), page = FourPages.page, bytes = pages.bytes
        defer { pages.unmap() }
        #expect(pages.resident() == [false, false, false, false])
        advise(UnsafeRawBufferPointer(rebasing: bytes[100 ..< 3 * page + 100]), .populateWrite)
        // Kernels before 5.14 lack MADV_POPULATE_WRITE: the hint is then a no-op.
        let after = pages.resident()
        #expect(after == [false, true, true, false] || after == [false, false, false, false], "\(after)")
        #expect(bytes.allSatisfy { $0 == 0 })

        for i in bytes.indices { bytes[i] = UInt8(truncatingIfNeeded: i &* 7) }
        advise(UnsafeRawBufferPointer(bytes), .populateWrite)
        #expect(bytes.indices.allSatisfy { bytes[$0] == UInt8(truncatingIfNeeded: $0 &* 7) })
    }
}
