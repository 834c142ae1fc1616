#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The calling thread's CPU time, for the import's report of what parsing cost
/// apart from the writer thread (`StraceTraceImport.Summary.parsingCPUNs`).
enum ThreadCPU {
    /// User + system CPU time of the calling thread, in ns.
    static func nanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
