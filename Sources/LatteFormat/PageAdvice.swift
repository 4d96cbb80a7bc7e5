#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LatteCore

/// Tells the kernel this process is done with a range of a read-only map: the pages leave
/// our resident set (they stay in the page cache), which keeps the peak RSS of a multi-GB
/// conversion at the batch size rather than the checkpoint size.
func dropPages(_ file: MappedFile, _ offset: Int, _ length: Int) {
    file.advise(offset, length, MADV_DONTNEED)
}

extension MappedFile {
    /// `madvise` over the pages of `offset ..< offset + length` (a hint: errors, e.g. an old
    /// kernel without `MADV_POPULATE_READ`, are ignored).
    func advise(_ offset: Int, _ length: Int, _ advice: Int32) {
        guard let base = bytes.baseAddress, length > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Populating may round outward (it only adds mappings); dropping rounds inward, so a
        // page shared with bytes still in use is kept.
        let outward = advice != MADV_DONTNEED
        let start = outward ? offset / page * page : (offset + page - 1) / page * page
        let end = outward ? min((offset + length + page - 1) / page * page, (size + page - 1) / page * page)
                          : min(offset + length, size) / page * page
        guard end > start else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + start), end - start, advice)
    }
}
