import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore

/// `polltrace-bench visualize`: times `polltrace timeline --around` at three
/// places in a generated trace (near its start, middle and end; on a v7 trace it
/// reads the window from the tables, and the last place is also timed by replay
/// from the first record), `--finding 1`,
/// and `polltrace report`, against a full `analyze` of the same file in the same
/// run (the baseline: one pass over every record). Prints every run and medians.
struct VisualizeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "visualize",
        abstract: "Time the timeline export (--around, --finding) and the HTML report on a generated trace, against a full analyze.")

    @Option(help: "Records to generate.")
    var records: Int = 10_000_000

    @Option(help: "Runs of each measurement (the median is reported).")
    var runs: Int = 3

    @Option(help: "Records either side of the --around seq.")
    var radius: UInt64 = 200

    @Option(help: "Use this trace (generated there first if it does not exist).")
    var trace: String?

    @Flag(help: "Keep the generated trace.")
    var keep = false

    func validate() throws {
        guard records > 0, records <= 100_000_000 else { throw ValidationError("--records must be in 1...100000000.") }
        guard runs >= 1, runs <= 20 else { throw ValidationError("--runs must be in 1...20.") }
    }

    func run() throws {
        print("machine: \(BenchMachine.describe())")
        print("command: swift run -c release polltrace-bench visualize --records \(records) --runs \(runs) --radius \(radius)")
        let path = trace ?? FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-visualize-bench-\(getpid()).trace").path
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-visualize-bench-\(getpid())-out").path
        defer {
            try? FileManager.default.removeItem(atPath: scratch)
            if trace == nil && !keep { for s in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + s) } }
        }
        if !FileManager.default.fileExists(atPath: path) {
            let start = ContinuousClock.now
            let written = try BenchWorkload.generate(path: path, records: records)
            print("generated \(written) records in \(start.duration(to: .now)) at \(path)")
        }
        let reader = try TraceReader(path: path)
        // The generator numbers records densely from 1.
        let lastSeq = try reader.recordCount()
        print("trace: \(path), \(((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / 1_048_576) MiB, last seq \(lastSeq)")

        var cases: [(label: String, body: () throws -> String)] = [
            ("analyze (baseline)   ", {
                let report = try TraceAnalysis.analyze(path: path)
                return "\(report.recordCount) records, \(report.staleDispatchCount) stale dispatches"
            }),
        ]
        for fraction in [0.1, 0.5, 0.9] {
            let center = UInt64(Double(lastSeq) * fraction)
            cases.append(("timeline --around \(Int(fraction * 100))%", {
                let timeline = try TimelineExtraction.extract(path: path, window: .around(center, radius: radius))
                let bytes = try Self.write(timeline, to: scratch)
                return "seq \(center): \(timeline.eventCount) events, \(bytes) bytes"
            }))
        }
        // The same window by replay from the first record (what a trace without v7
        // tables costs), for the ratio of the table path in the same run.
        let late = UInt64(Double(lastSeq) * 0.9)
        cases.append(("around 90% by replay ", {
            let timeline = try TimelineExtraction.extract(path: path, window: .around(late, radius: radius), usesTables: false)
            let bytes = try Self.write(timeline, to: scratch)
            return "seq \(late): \(timeline.eventCount) events, \(bytes) bytes"
        }))
        cases.append(("timeline --finding 1  ", {
            let seq = try TimelineExtraction.seq(ofFinding: 1, path: path)
            let timeline = try TimelineExtraction.extract(path: path, window: .around(seq, radius: radius))
            let bytes = try Self.write(timeline, to: scratch)
            return "finding at seq \(seq): \(timeline.eventCount) events, \(bytes) bytes"
        }))
        cases.append(("report               ", {
            let html = try HTMLReport.generate(path: path)
            try html.write(toFile: scratch, atomically: false, encoding: .utf8)
            return "\(html.utf8.count) bytes of HTML (goal < 5000000: \(html.utf8.count < 5_000_000 ? "met" : "NOT met"))"
        }))

        // Wall time, and CPU time (user + system, every thread of this process):
        // on a shared machine the CPU time is the steadier of the two.
        var times = [[Double]](repeating: [], count: cases.count)
        var cpu = [[Double]](repeating: [], count: cases.count)
        for i in 1...runs {
            for (k, c) in cases.enumerated() {
                let cpuStart = ProcessCPU.ownSeconds()
                let start = ContinuousClock.now
                let detail = try c.body()
                let elapsed = start.duration(to: .now)
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                times[k].append(seconds)
                cpu[k].append(ProcessCPU.ownSeconds() - cpuStart)
                print(String(format: "run %d: %@ %.3f s wall, %.3f s cpu  (%@)", i, c.label, seconds, cpu[k].last!, detail))
            }
        }
        print("")
        let baseline = median(times[0]), baselineCPU = median(cpu[0])
        for (k, c) in cases.enumerated() {
            let m = median(times[k]), mc = median(cpu[k])
            let goal = c.label.hasPrefix("timeline --around") ? String(format: " (goal < 1 s: %@)", m < 1 ? "met" : "NOT met")
                : c.label.hasPrefix("report") ? String(format: " (goal < 10 s: %@)", m < 10 ? "met" : "NOT met") : ""
            print(String(format: "median %@ %.3f s wall = %.2fx analyze, %.3f s cpu = %.2fx analyze%@",
                         c.label, m, m / baseline, mc, mc / baselineCPU, goal))
        }
    }

    /// Writes the JSON as `polltrace timeline` does; returns its size.
    static func write(_ timeline: PollTraceAnalysis.Timeline, to path: String) throws -> Int {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var bytes = 0
        try TraceEventExport.write(timeline) { chunk in
            bytes += chunk.utf8.count
            try handle.write(contentsOf: Data(chunk.utf8))
        }
        return bytes
    }
}
