import COpenBLAS
import CLatteKernels
import LatteSystem

/// OpenBLAS kernel selection.
///
/// A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels from the CPU model when the library
/// loads. A CPU model newer than the library's table (e.g. 0.3.21 under KVM on a recent
/// Xeon) falls back to the generic "Prescott" SSE3 kernels, about 3x slower than the AVX-512
/// ones on the same machine. The choice can only be changed by `OPENBLAS_CORETYPE` in the
/// environment before the library loads, so the command line re-executes itself with it.
public enum BLASTuning {
    /// Stops OpenBLAS's worker threads (`blas_thread_shutdown_`). The pthread build starts
    /// them when the library loads and they spin on `sched_yield` for a while before
    /// sleeping: on a 2-core machine that takes a core from a command that does no matrix
    /// work at all (`inspect`, `export`). A later BLAS call starts them again.
    public static func stopIdleThreads() {
        _ = blas_thread_shutdown_()
    }

    /// The kernel family OpenBLAS is using.
    public static var coreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// Threads OpenBLAS runs on.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// OpenBLAS's generic fallbacks, chosen when it does not recognize the CPU.
    static let genericCores: Set<String> = ["Prescott", "Core2", "Katmai", "Coppermine", "Northwood", "Banias", "Nehalem", "Dunnington", "Penryn"]

    /// The `OPENBLAS_CORETYPE` worth setting, or nil when OpenBLAS already runs kernels that
    /// fit the CPU (or the user chose one): "SkylakeX" on AVX-512 CPUs, "Haswell" on AVX2+FMA.
    public static func recommendedCoreType() -> String? {
        if getenv("OPENBLAS_CORETYPE") != nil { return nil }
        guard genericCores.contains(coreName) else { return nil }
        switch lk_isa_level() {
        case 3: return "SkylakeX"
        case 2: return "Haswell"
        default: return nil
        }
    }

    /// When OpenBLAS runs generic kernels on a CPU that has better ones, re-executes the
    /// current program (`/proc/self/exe`, same arguments) with `OPENBLAS_CORETYPE` set.
    /// Returns only when no re-execution is needed or it failed.
    public static func reexecWithFittingKernelsIfNeeded() {
        guard let core = recommendedCoreType() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        var argv: [UnsafeMutablePointer<CChar>?] = CommandLine.arguments.map { strdup($0) }
        argv.append(nil)
        execv("/proc/self/exe", argv)
        // execv returned: it failed; carry on with the kernels we have.
        unsetenv("OPENBLAS_CORETYPE")
    }
}
