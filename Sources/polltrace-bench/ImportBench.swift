import ArgumentParser
import Foundation
import PollTraceStrace
#if canImport(Glibc)
import Glibc
#endif

/// `polltrace-bench import`: how fast an strace log imports, whether memory stays
/// flat as the log grows, and what strace itself costs the traced program.
///
/// Each measurement runs in a fresh child process (this binary with `--child`), so
/// its peak RSS is its own. Baseline: reading the same log line by line doing
/// nothing else (`scan`), measured in the same run.
struct ImportBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Measure strace-log import speed, its memory at two log sizes, and strace's own cost.")

    @Option(help: "Lines in the smaller generated log (the larger has 4x).")
    var lines = 1_000_000

    @Option(help: "Runs per measurement; the median is reported.")
    var runs = 3

    @Option(help: "Requests per redis-benchmark run when measuring strace's cost.")
    var requests = 100_000

    @Flag(help: "Skip the strace-cost measurement.")
    var skipStraceCost = false

    @Option(help: "Instead: import logs whose one epoll_wait line holds this many events for one fd (comma-separated counts), and a zero-filled line of 1 GB with no newline.")
    var oneFDEvents: String?

    @Option(help: "Only write a synthetic log of --lines lines to this path (for profiling), then exit.")
    var generate: String?

    @Option(help: .hidden) var child: String?
    @Option(help: .hidden) var childLog: String?

    func run() throws {
        if let child, let childLog { return try runChild(mode: child, log: childLog) }
        if let generate {
            let bytes = try SyntheticLog.write(lines: lines, to: generate)
            return say("wrote \(lines) lines, \(bytes) bytes to \(generate)")
        }
        say("machine: \(BenchMachine.describe())")
        if let oneFDEvents { return try HostileLineBench.measure(counts: oneFDEvents, runs: runs, spawn: spawnChild) }
        say("command: swift run -c release polltrace-bench import --lines \(lines) --runs \(runs)")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-import-bench-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }

        for size in [lines, lines * 4] {
            let log = dir.appendingPathComponent("churn-\(size).strace").path
            let bytes = try SyntheticLog.write(lines: size, to: log)
            say("\nlog: \(size) lines, \(bytes / 1_000_000) MB (synthetic redis-style churn, strace 6.x -f -ttt -T)")
            var medians: [String: Double] = [:]
            // `store` holds every record in memory, so it runs on the smaller log only.
            for mode in ["scan", "analyze", "import"] + (size == lines ? ["store"] : []) {
                var results: [ChildResult] = []
                for run in 1...runs {
                    let result = try spawnChild(mode: mode, log: log, dir: dir)
                    results.append(result)
                    say(String(format: "  %-8@ run %d: wall %.3f s (%.2f M lines/s), cpu %.3f s (%.2f M lines/s, %.0f MB/s), peak RSS %d MB",
                                 mode as NSString, run, result.seconds, Double(size) / result.seconds / 1e6,
                                 result.cpuSeconds, Double(size) / result.cpuSeconds / 1e6,
                                 Double(bytes) / result.cpuSeconds / 1e6, result.peakRSSKB / 1024)
                        + Self.threadNote(result))
                }
                let wall = median(results.map(\.seconds))
                let cpu = median(results.map(\.cpuSeconds))
                let rss = results.map(\.peakRSSKB).sorted()[results.count / 2]
                medians[mode] = cpu
                say(String(format: "  %-8@ median: wall %.3f s = %.2f M lines/s; cpu %.3f s = %.2f M lines/s (%.0f MB/s); peak RSS %d MB",
                             mode as NSString, wall, Double(size) / wall / 1e6, cpu, Double(size) / cpu / 1e6,
                             Double(bytes) / cpu / 1e6, rss / 1024)
                    + Self.threadNote(ChildResult(seconds: wall, cpuSeconds: cpu, peakRSSKB: rss,
                                                  parsingCPUSeconds: Self.medianIfAny(results.compactMap(\.parsingCPUSeconds)),
                                                  writerCPUSeconds: Self.medianIfAny(results.compactMap(\.writerCPUSeconds)))))
            }
            if let scan = medians["scan"], let analyze = medians["analyze"], let imported = medians["import"] {
                say(String(format: "  ratio vs scan baseline (cpu): analyze %.1fx, import %.1fx the time of a bare line scan",
                             analyze / scan, imported / scan))
            }
            if medians["store"] != nil {
                say("  (store: the trace writer alone, fed the log's records parsed beforehand; its peak RSS holds them all)")
            }
        }
        if !skipStraceCost { try StraceCost.measure(runs: runs, requests: requests) }
    }

    /// Wall time, CPU time (user + system, all threads) and peak RSS of one child.
    /// The machine is shared, so both times are printed: CPU time says what the code
    /// costs, wall time what a user waited.
    struct ChildResult {
        var seconds: Double; var cpuSeconds: Double; var peakRSSKB: Int
        /// `import` only: the importing thread's CPU while it parsed and made the rows,
        /// and the SQLite side's (`StraceTraceImport.Summary.writerCPUNs`).
        var parsingCPUSeconds: Double?; var writerCPUSeconds: Double?
    }

    /// `; cpu by thread: parsing X s, writer Y s` for an import, else nothing.
    static func threadNote(_ result: ChildResult) -> String {
        guard let parsing = result.parsingCPUSeconds, let writer = result.writerCPUSeconds else { return "" }
        return String(format: "; cpu by thread: parsing %.3f s, writer %.3f s", parsing, writer)
    }

    /// The median, or nil for no values.
    static func medianIfAny(_ values: [Double]) -> Double? {
        guard !values.isEmpty else { return nil }
        return values.sorted()[values.count / 2]
    }

    func spawnChild(mode: String, log: String, dir: URL) throws -> ChildResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        process.arguments = ["import", "--child", mode, "--child-log", log]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        var fields: [String: String] = [:]
        for part in text.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { fields[String(kv[0])] = String(kv[1]) }
        }
        guard process.terminationStatus == 0, let seconds = fields["seconds"].flatMap(Double.init),
              let cpu = fields["cpu_seconds"].flatMap(Double.init), let rss = fields["peak_rss_kb"].flatMap(Int.init) else {
            throw ValidationError("child \(mode) failed (status \(process.terminationStatus)): \(text)")
        }
        return ChildResult(seconds: seconds, cpuSeconds: cpu, peakRSSKB: rss,
                           parsingCPUSeconds: fields["parsing_cpu_seconds"].flatMap(Double.init),
                           writerCPUSeconds: fields["writer_cpu_seconds"].flatMap(Double.init))
    }

    private func runChild(mode: String, log: String) throws {
        // `store` parses first, untimed: what is measured is the trace writer alone.
        let parsed = mode == "store" ? try StoreOnly.collect(log) : nil
        var threads = ""
        // Removed after the clock stops: deleting the trace is not the import's work.
        var written: String?
        defer { if let written { try? FileManager.default.removeItem(atPath: written) } }
        let cpuBefore = ProcessCPU.ownSeconds()
        let start = DispatchTime.now().uptimeNanoseconds
        switch mode {
        case "scan":
            var count = 0
            try LogReader.forEachLine(path: log) { line, _ in count &+= line.count }
            if count == 0 { say("empty") }
        case "analyze":
            let report = try StraceImport.analyze(path: log)
            if report.hazardCount != 0 { FileHandle.standardError.write(Data("unexpected hazards\n".utf8)) }
        case "import":
            let trace = log + ".trace"
            written = trace
            let summary = try StraceTraceImport.importLog(logPath: log, tracePath: trace, overwrite: true)
            threads = " parsing_cpu_seconds=\(Double(summary.parsingCPUNs) / 1e9) writer_cpu_seconds=\(Double(summary.writerCPUNs) / 1e9)"
        case "store":
            let trace = log + ".store.trace"
            written = trace
            try StoreOnly.write(parsed!, to: trace)
        default:
            throw ValidationError("unknown child mode \(mode)")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let cpu = ProcessCPU.ownSeconds() - cpuBefore
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        say("seconds=\(seconds) cpu_seconds=\(cpu) peak_rss_kb=\(usage.ru_maxrss)" + threads)
    }

}


/// Prints a line at once (unbuffered), so a long benchmark shows each measurement
/// as it is made, even into a pipe.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
