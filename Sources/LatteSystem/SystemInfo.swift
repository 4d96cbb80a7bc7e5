/// Facts about the machine, from `sysconf`.
package enum SystemInfo {
    /// The cores online now (at least 1): the default thread count of encoders and decoders.
    package static var onlineCores: Int { max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))) }

    /// The size of a memory page in bytes.
    package static let pageSize: Int = {
        let size = Int(sysconf(Int32(_SC_PAGESIZE)))
        return size > 0 ? size : 4096
    }()

    /// Physical memory in bytes, nil when the system does not say (or the product overflows).
    package static var physicalMemoryBytes: Int? {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        let (bytes, overflow) = pages.multipliedReportingOverflow(by: size)
        return pages > 0 && size > 0 && !overflow ? bytes : nil
    }

    /// The process's peak resident set so far (`getrusage`'s `ru_maxrss`, KiB on Linux).
    package static var peakResidentBytes: Int? {
        var usage = rusage()
        guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0, usage.ru_maxrss > 0 else { return nil }
        return Int(usage.ru_maxrss) * 1024
    }
}

/// Seconds on the monotonic clock (`CLOCK_MONOTONIC`: never set back, so differences are
/// durations), for timings and progress rates.
package func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
