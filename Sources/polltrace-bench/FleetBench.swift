import ArgumentParser
import Foundation

/// `polltrace-bench fleet`: `polltrace analyze DIR --jobs N` over a directory of
/// generated traces, against `--jobs 1` and against analyzing the traces one after
/// another with the single-trace command (two threads each, reader beside replay),
/// run in turns so that the machine's drift falls on every mode alike.
struct FleetBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Traces per minute of polltrace analyze over a directory of traces, by --jobs.")

    @Option(help: "Traces in the directory.")
    var traces: Int = 20

    @Option(help: "Records per trace.")
    var records: Int = 300_000

    @Option(help: "Runs of each mode (the median is reported).")
    var runs: Int = 5

    @Option(help: "The --jobs values to measure; the first is the baseline of the ratios.")
    var jobs: [Int] = [1, 2]

    func validate() throws {
        guard (1...1000).contains(traces) else { throw ValidationError("--traces must be in 1...1000.") }
        guard records > 0, records <= 20_000_000 else { throw ValidationError("--records must be in 1...20000000.") }
        guard (1...20).contains(runs) else { throw ValidationError("--runs must be in 1...20.") }
        guard !jobs.isEmpty, jobs.allSatisfy({ (1...256).contains($0) }) else { throw ValidationError("--jobs values must be in 1...256.") }
    }

    func run() throws {
        let polltrace = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("polltrace").path
        guard FileManager.default.isExecutableFile(atPath: polltrace) else {
            throw ValidationError("polltrace is not built beside polltrace-bench (\(polltrace)); run swift build -c release first")
        }
        print("machine: \(BenchMachine.describe())")
        print("command: swift run -c release polltrace-bench fleet --traces \(traces) --records \(records) --runs \(runs) \(jobs.map { "--jobs \($0)" }.joined(separator: " "))")
        print("load average at start: \(Self.loadAverage())")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-fleet-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // One generated trace, copied: every trace costs the same, so a run's time is
        // the jobs' doing, not which traces a job happened to draw.
        let first = directory + "/trace-001.sqlite"
        let written = try BenchWorkload.generate(path: first, records: records)
        for index in 2...max(2, traces) where index <= traces {
            try FileManager.default.copyItem(atPath: first, toPath: directory + String(format: "/trace-%03d.sqlite", index))
        }
        let paths = (1...traces).map { directory + String(format: "/trace-%03d.sqlite", $0) }
        let totalRecords = written * traces
        print("generated \(traces) traces of \(written) records (\(totalRecords) in all) in \(directory)")

        var modes: [(label: String, run: () throws -> Double)] = jobs.map { jobs in
            ("analyze DIR --jobs \(jobs)", { try Self.time(polltrace, ["analyze", directory, "--jobs", "\(jobs)"]) })
        }
        modes.append(("analyze TRACE, one after another (2 threads each)", {
            try paths.reduce(0) { $0 + (try Self.time(polltrace, ["analyze", $1])) }
        }))
        var seconds = Array(repeating: [Double](), count: modes.count)
        var cpu = Array(repeating: [Double](), count: modes.count)
        for run in 1...runs {
            // Each run starts one mode later, so no mode always runs first.
            for step in 0..<modes.count {
                let index = (step + run - 1) % modes.count
                let cpuBefore = ProcessCPU.childrenSeconds()
                let elapsed = try modes[index].run()
                let used = ProcessCPU.childrenSeconds() - cpuBefore
                seconds[index].append(elapsed)
                cpu[index].append(used)
                print(String(format: "run %d: %@: %.3f s, CPU %.3f s (%.2f cores busy)", run, modes[index].label, elapsed, used, used / elapsed))
            }
        }
        print("")
        let medians = seconds.map(Self.median)
        let cpuMedians = cpu.map(Self.median)
        for (index, mode) in modes.enumerated() {
            let perMinute = Double(traces) * 60 / medians[index]
            print(String(format: "%@: median %.3f s = %.1f traces/min, %.0f records/s, %.2fx the first; CPU %.3f s = %.2f us per record",
                         mode.label, medians[index], perMinute, Double(totalRecords) / medians[index], medians[0] / medians[index],
                         cpuMedians[index], cpuMedians[index] * 1e6 / Double(totalRecords)))
        }
        // On a machine other work keeps busy, wall time says more about that work than
        // about the jobs; CPU per record says whether running jobs side by side made
        // each one costlier (a shared lock, a shared cache), which is what would stop
        // the jobs from scaling on free cores.
        print(String(format: "CPU per record, the last --jobs against the first: %.3f (1.000: the jobs cost each other nothing)",
                     cpuMedians[jobs.count - 1] / cpuMedians[0]))
        print("load average at end: \(Self.loadAverage())")
    }

    /// Wall time of one run of the command; its output is discarded. Exit 0 or 1
    /// (findings) is success; anything else stops the benchmark.
    static func time(_ executable: String, _ arguments: [String]) throws -> Double {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        let start = ContinuousClock.now
        try process.run()
        process.waitUntilExit()
        let elapsed = start.duration(to: .now)
        guard process.terminationStatus <= 1 else {
            throw ValidationError("polltrace \(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
        }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }
}
