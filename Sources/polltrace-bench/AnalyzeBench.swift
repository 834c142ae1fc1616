import ArgumentParser
import CSQLite
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore

/// `polltrace-bench analyze`: generates a trace of N records with the real writer,
/// then measures, each in a fresh child process so that peak RSS is the run's own:
/// the baseline (a plain SQLite full scan of every row of the same file) and
/// `TraceAnalysis.analyze` end to end from the file. Prints every run and medians.
struct AnalyzeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "analyze",
        abstract: "Analyze throughput and peak RSS on a generated trace, against a plain SQLite full scan of the same file.")

    @Option(help: "Records to generate.")
    var records: Int = 10_000_000

    @Option(help: "Runs of each measurement (the median is reported).")
    var runs: Int = 3

    @Option(help: "Use this trace (generated there first if it does not exist).")
    var trace: String?

    @Flag(help: "Keep the generated trace.")
    var keep = false

    /// Set by the parent when it runs one measurement in a child process.
    @Option(help: .hidden)
    var child: String?

    func validate() throws {
        guard records > 0, records <= 100_000_000 else { throw ValidationError("--records must be in 1...100000000.") }
        guard runs >= 1, runs <= 20 else { throw ValidationError("--runs must be in 1...20.") }
    }

    func run() throws {
        if let child, let trace { return try AnalyzeOnce.measure(mode: child, path: trace) }
        print("machine: \(BenchMachine.describe())")
        print("command: swift run -c release polltrace-bench analyze --records \(records) --runs \(runs)")
        let path = trace ?? FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-analyze-bench-\(getpid()).trace").path
        defer { if trace == nil && !keep { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } } }
        if !FileManager.default.fileExists(atPath: path) {
            let start = ContinuousClock.now
            let written = try BenchWorkload.generate(path: path, records: records)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            print("generated \(written) records (\(size / 1_048_576) MiB) in \(start.duration(to: .now)) at \(path)")
        }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        // Each mode runs in a fresh child (its own peak RSS), in this order every run.
        let modes: [(mode: String, label: String)] = [
            ("scan", "sqlite full scan  "), ("read", "TraceReader only  "), ("analyze", "analyze (2 threads) "),
            ("analyze-serial", "analyze, 1 thread "), ("replay", "replay alone     "),
        ]
        var results: [String: [ChildRun]] = [:]
        for i in 1...runs {
            for (mode, label) in modes {
                let run = try ChildRun.measure(executable: executable, mode: mode, path: path)
                print("run \(i): \(label)\(run)")
                results[mode, default: []].append(run)
            }
        }
        let scans = results["scan"]!, reads = results["read"]!, analyses = results["analyze"]!
        let serials = results["analyze-serial"]!, replays = results["replay"]!
        let scanMedian = median(scans.map(\.seconds))
        let analyzeMedian = median(analyses.map(\.seconds))
        let readMedian = median(reads.map(\.seconds))
        let serialMedian = median(serials.map(\.seconds))
        let replayMedian = median(replays.map(\.seconds))
        let recordCount = analyses[0].records
        let rate = Double(recordCount) / analyzeMedian
        let rss = (analyses + serials).map(\.maxRSSKiB).max() ?? 0
        print("")
        print(String(format: "median sqlite full scan: %.3f s (%.0f rows/s)", scanMedian, Double(scans[0].records) / scanMedian))
        print(String(format: "median analyze:          %.3f s = %.0f records/s (goal >= 2000000: %@)", analyzeMedian, rate,
                     rate >= 2_000_000 ? "met" : "NOT met"))
        print(String(format: "median TraceReader only: %.3f s (%.0f records/s)", readMedian, Double(recordCount) / readMedian))
        print(String(format: "median analyze on one thread (reading and replay not overlapped): %.3f s = %.0f records/s",
                     serialMedian, Double(recordCount) / serialMedian))
        print(String(format: "median replay alone (records decoded first, in chunks of %d, untimed): %.3f s = %.0f records/s",
                     AnalyzeOnce.replayChunk, replayMedian, Double(recordCount) / replayMedian))
        print(String(format: "pipeline overhead: analyze - max(reader alone, replay alone) = %.3f s",
                     analyzeMedian - max(readMedian, replayMedian)))
        print(String(format: "analyze / full scan time ratio: %.2fx (analyze / reader alone: %.2fx)",
                     analyzeMedian / scanMedian, analyzeMedian / readMedian))
        print("peak RSS of analyze (max over runs): \(rss / 1024) MiB (goal < 64 MiB: \(rss < 64 * 1024 ? "met" : "NOT met"))")
        print("findings in the generated trace: \(analyses[0].detail)")
    }

}

/// The analyze benchmark's baseline: a full scan with the SQLite C API alone.
enum PlainScan {
    /// The recording form's tables (and schema 1-6 files), then the v7 tables; a
    /// file has one set or the other.
    static let tables = ["records", "fd_records", "batch_event_rows", "syscall_rows",
                         "fd_opens", "registrations", "modifications", "unregistrations", "fd_closes", "batches",
                         "batch_events", "dispatches", "gaps", "failed_calls", "syscalls"]

    static func run(path: String) throws -> (rows: Int, detail: String) {
        var db: OpaquePointer?
        guard sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let db else {
            throw ValidationError("cannot open \(path) read-only with SQLite")
        }
        defer { sqlite3_close_v2(db) }
        var rows = 0
        var sink: Int64 = 0
        for table in tables {
            var statement: OpaquePointer?
            // A table missing from an older schema is skipped.
            guard sqlite3_prepare_v2(db, "SELECT * FROM \(table)", -1, &statement, nil) == SQLITE_OK, let statement else { continue }
            defer { sqlite3_finalize(statement) }
            let columns = sqlite3_column_count(statement)
            while true {
                let code = sqlite3_step(statement)
                if code == SQLITE_DONE { break }
                guard code == SQLITE_ROW else { throw ValidationError("scan of \(table) failed: \(String(cString: sqlite3_errmsg(db)))") }
                for i in 0..<columns {
                    switch sqlite3_column_type(statement, i) {
                    case SQLITE_INTEGER: sink &+= sqlite3_column_int64(statement, i)
                    case SQLITE_TEXT, SQLITE_BLOB:
                        let count = Int(sqlite3_column_bytes(statement, i))
                        if count > 0, let bytes = sqlite3_column_blob(statement, i)?.assumingMemoryBound(to: UInt8.self) {
                            sink &+= Int64(count) &+ Int64(bytes[count - 1])
                        }
                    default: break
                    }
                }
                rows += 1
            }
        }
        return (rows, "checksum \(sink)")
    }
}

/// One measured run in a child process (`polltrace-bench analyze --child MODE --trace PATH`).
struct ChildRun: CustomStringConvertible {
    var seconds: Double
    var maxRSSKiB: Int
    var records: Int
    var detail: String

    var description: String {
        String(format: "%.3f s, %d rows, peak RSS %d MiB", seconds, records, maxRSSKiB / 1024)
    }

    static func measure(executable: String, mode: String, path: String) throws -> ChildRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["analyze", "--child", mode, "--trace", path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let fields = output.split(separator: "\t", maxSplits: 3).map(String.init)
        guard process.terminationStatus == 0, fields.count >= 3, let s = Double(fields[0]), let rss = Int(fields[1]),
              let n = Int(fields[2]) else {
            throw ValidationError("the \(mode) child failed (status \(process.terminationStatus)): \(output)")
        }
        return ChildRun(seconds: s, maxRSSKiB: rss, records: n,
                        detail: fields.count > 3 ? fields[3].trimmingCharacters(in: .whitespacesAndNewlines) : "")
    }
}

/// The child side: one scan or one analysis, then "seconds<TAB>maxrss_kib<TAB>rows<TAB>detail".
enum AnalyzeOnce {
    static func measure(mode: String, path: String) throws {
        let start = ContinuousClock.now
        var rows = 0
        var detail = ""
        switch mode {
        case "scan":
            // The baseline: plain SQLite, through its C API, stepping through every
            // row of every record table of the file (whatever the schema version:
            // v3 batch rows carry their events as text) and fetching every column
            // by its stored type, text bytes included. Nothing is decoded.
            (rows, detail) = try PlainScan.run(path: path)
        case "read":
            // The store's reader alone: decode every record, replay nothing.
            let reader = try TraceReader(path: path)
            var cursor = try reader.records()
            while let record = try cursor.next() { rows += 1; detail = record.seq == 0 ? "?" : "" }
        case "analyze", "analyze-serial":
            let report = try TraceAnalysis.analyze(path: path, pipelined: mode == "analyze")
            rows = Int(report.recordCount)
            detail = FindingKind.allCases.map { "\($0)=\(report.count($0))" }.joined(separator: " ")
                + " inconsistencies=\(report.inconsistencyCount)"
        case "replay":
            // Replay alone: decode a bounded chunk into memory (untimed), replay it
            // (timed), and repeat over the whole trace with one replayer, so the time
            // is exactly the replay of every record and memory stays bounded.
            let reader = try TraceReader(path: path)
            var cursor = try reader.records()
            var replay = Duration.zero
            var chunk: [TraceRecord] = []
            chunk.reserveCapacity(replayChunk)
            var session = ReplaySession(name: path, metadata: reader.metadata)
            while true {
                chunk.removeAll(keepingCapacity: true)
                while chunk.count < replayChunk, let record = try cursor.next() { chunk.append(record) }
                if chunk.isEmpty { break }
                let replayStart = ContinuousClock.now
                session.consume(chunk)
                replay += replayStart.duration(to: .now)
            }
            let replayStart = ContinuousClock.now
            let report = session.finish()
            replay += replayStart.duration(to: .now)
            if ProcessInfo.processInfo.environment["POLLTRACE_BENCH_CPU"] != nil {
                var usage = rusage()
                getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
                FileHandle.standardError.write("process user cpu \(usage.ru_utime.tv_sec).\(usage.ru_utime.tv_usec)\n".data(using: .utf8)!)
            }
            rows = Int(report.recordCount)
            detail = FindingKind.allCases.map { "\($0)=\(report.count($0))" }.joined(separator: " ")
            print("\(seconds(replay))\t\(peakRSSKiB())\t\(rows)\t\(detail)")
            return
        default:
            throw ValidationError("mode must be scan, read, analyze, analyze-serial or replay")
        }
        print("\(seconds(start.duration(to: .now)))\t\(peakRSSKiB())\t\(rows)\t\(detail)")
    }

    /// Records held in memory at once by the replay-alone measurement.
    static let replayChunk = 250_000

    static func seconds(_ elapsed: Duration) -> Double {
        Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }



    /// This process's own peak RSS. `getrusage`'s `ru_maxrss` is not used: Linux
    /// folds the parent's high-water mark into a spawned child's at exec, so the
    /// child would report the generator's memory. `VmHWM` belongs to this address
    /// space only.
    static func peakRSSKiB() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return usage.ru_maxrss
    }
}

