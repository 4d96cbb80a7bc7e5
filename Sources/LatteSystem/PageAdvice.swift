/// What `advise(_:_:)` tells the kernel about the pages of a memory map.
package enum PageAdvice: Sendable {
    /// Map the pages in now (`MADV_POPULATE_READ`): one call instead of a fault per 4 KiB.
    case populate
    /// Map the pages in writable now (`MADV_POPULATE_WRITE`), for anonymous memory about to
    /// be written: one call instead of a write fault per 4 KiB. The bytes are not changed.
    case populateWrite
    /// This process is done with the pages (`MADV_DONTNEED`): they leave its resident set;
    /// a private read-only file map reads them again from the file if they are touched.
    case drop
    /// Back the pages with transparent huge pages (`MADV_HUGEPAGE`), for anonymous maps.
    case hugePages

    var flag: Int32 {
        switch self {
        case .populate: Int32(MADV_POPULATE_READ)
        case .populateWrite: Int32(MADV_POPULATE_WRITE)
        case .drop: Int32(MADV_DONTNEED)
        case .hugePages: Int32(MADV_HUGEPAGE)
        }
    }
}

/// `madvise` over the pages of `bytes`, which lie inside one memory map. A hint: errors
/// (an old kernel without `MADV_POPULATE_READ`, say) are ignored.
///
/// Populating for reading and huge pages round outward to whole pages: they only add or
/// reshape mappings, and a map (page-aligned, its last page whole) covers every page its
/// bytes touch. Dropping rounds inward, so a page shared with bytes still in use is kept;
/// so does populating for writing, which is used on memory a caller owns, whose neighbours
/// may be another object's (or a shared file map's, where a writable mapping dirties a page).
package func advise(_ bytes: UnsafeRawBufferPointer, _ advice: PageAdvice) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    let page = SystemInfo.pageSize
    let first = Int(bitPattern: base), last = first + bytes.count
    let inward = advice == .drop || advice == .populateWrite
    let start = inward ? (first + page - 1) / page * page : first / page * page
    let end = inward ? last / page * page : (last + page - 1) / page * page
    guard end > start, let p = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(p, end - start, advice.flag)
}
