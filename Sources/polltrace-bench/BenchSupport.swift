import CSQLite
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The middle value, or the mean of the two middle ones; NaN when there are none.
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// What every benchmark prints first, so its numbers say where they came from.
enum BenchMachine {
    static func describe() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        var uts = utsname()
        uname(&uts)
        let kernel = withUnsafeBytes(of: &uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return "\(cpu), \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB, Linux \(kernel), SQLite \(String(cString: sqlite3_libversion()))"
    }
}

/// CPU time from `getrusage`.
enum ProcessCPU {
    /// User + system time of this process so far, every thread.
    static func ownSeconds() -> Double { seconds(RUSAGE_SELF.rawValue) }

    /// User + system time of every child waited for so far (with their own children:
    /// strace waits for the server it traces, so that way counts both).
    static func childrenSeconds() -> Double { seconds(RUSAGE_CHILDREN.rawValue) }

    /// User + system time of the calling thread alone.
    static func threadSeconds() -> Double { seconds(1) }  // RUSAGE_THREAD, which Glibc does not export

    private static func seconds(_ who: Int32) -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(who), &usage)
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return seconds(usage.ru_utime) + seconds(usage.ru_stime)
    }
}
