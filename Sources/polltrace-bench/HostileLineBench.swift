import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `polltrace-bench import --one-fd-events N,M`: logs a damaged or forged strace
/// output could be: one epoll_wait line carrying N events for one fd (the analysis
/// must stay linear in events), and a line of zero bytes with no newline (the
/// reader must stay within its line limit). Baseline: a bare line scan of the
/// same file, in the same run.
enum HostileLineBench {
    static func measure(counts: String, runs: Int,
                        spawn: (String, String, URL) throws -> ImportBench.ChildResult) throws {
        say("command: swift run -c release polltrace-bench import --one-fd-events \(counts) --runs \(runs)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-hostile-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for count in counts.split(separator: ",").compactMap({ Int($0) }) {
            let log = dir.appendingPathComponent("one-fd-\(count).strace").path
            let one = "{events=EPOLLIN, data={u32=5, u64=5}}"
            let text = """
                100 epoll_create1(0) = 3
                100 eventfd2(0, EFD_NONBLOCK) = 5
                100 epoll_ctl(3, EPOLL_CTL_ADD, 5, \(one)) = 0
                100 epoll_wait(3, [\(Array(repeating: one, count: count).joined(separator: ", "))], \(count), -1) = \(count)
                100 close(5) = 0
                100 epoll_wait(3, [], 8, 0) = 0

                """
            try text.write(toFile: log, atomically: false, encoding: .utf8)
            try report("\(count) events for one fd in one line (\(text.utf8.count / 1_000_000) MB)", log: log, dir: dir,
                       runs: runs, spawn: spawn)
        }
        let zeros = dir.appendingPathComponent("zeros.strace").path
        FileManager.default.createFile(atPath: zeros, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: zeros))
        try handle.truncate(atOffset: 1 << 30)
        try handle.close()
        try report("1 GB of zero bytes, no newline", log: zeros, dir: dir, runs: runs, spawn: spawn)
    }

    private static func report(_ what: String, log: String, dir: URL, runs: Int,
                               spawn: (String, String, URL) throws -> ImportBench.ChildResult) throws {
        say("\n\(what):")
        for mode in ["scan", "analyze", "import"] {
            let results = try (1...runs).map { _ in try spawn(mode, log, dir) }
            let wall = results.map(\.seconds).sorted()[results.count / 2]
            let cpu = results.map(\.cpuSeconds).sorted()[results.count / 2]
            let rss = results.map(\.peakRSSKB).sorted()[results.count / 2]
            say(String(format: "  %-8@ median of %d: wall %.3f s, cpu %.3f s, peak RSS %d MB", mode as NSString, runs,
                       wall, cpu, rss / 1024))
        }
    }
}
