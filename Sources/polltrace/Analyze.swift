import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import PollTraceStrace
import Synchronization

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay traces and report stale dispatches, lost and orphan events, and spins.",
        discussion: """
        Each trace is replayed in sequence order against a simulated fd table and a \
        simulated interest list per poller. Every finding shows its interleaving: the \
        batch and event, which dispatch closed the fd, which opened and registered the \
        new one, and which handler ran. Exit codes: 0 clean, 1 findings, 2 bad input \
        (a trace that cannot be read, or one with inconsistent records).

        Several traces (files, directories of traces, or glob patterns) are analyzed \
        --jobs at a time, each on one thread, and reported as a fleet: a line per \
        trace, then the traces with findings, findings by kind and by handler pair. \
        The exit code is the worst trace's; a bad trace is named and the others are \
        still analyzed.
        """)

    @Argument(help: "Trace files, directories of traces (*.sqlite, *.trace), or glob patterns.")
    var traces: [String]

    @Flag(name: .long, help: "Print JSON (the report for one trace, the fleet report for several) instead of text.")
    var json = false

    @Flag(name: .long, help: "Print one JSON object per finding, one per line, as each trace is analysed (traces in order).")
    var jsonLines = false

    @Option(name: .long, help: "Traces analyzed at once when there are several (default: one per core).")
    var jobs: Int = ProcessInfo.processInfo.activeProcessorCount

    @OptionGroup var replay: ReplayOptionGroup

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("Give at least one trace file.") }
        guard (1...256).contains(jobs) else { throw ValidationError("--jobs must be in 1...256 (got \(jobs)).") }
        if json && jsonLines { throw ValidationError("Give --json or --json-lines, not both.") }
    }

    func run() throws {
        let expansion = TraceArguments.expand(traces)
        if jsonLines { return try runLines(expansion) }
        if expansion.items.count > 1 { return try runFleet(expansion) }
        if let error = expansion.errors.first {
            Console.err("polltrace: error: \(error.message)\n")
            throw ExitCode(2)
        }
        try runOne(expansion.paths[0])
    }

    /// One trace: its full report, as `analyze` has always printed it.
    private func runOne(_ path: String) throws {
        let bar = ProgressBar(label: "analyze \(path)")
        var code: Int32 = 0
        var document: JSONValue?
        do {
            // An imported strace log has no dispatch records to replay: it gets the
            // foreign-loop hazard analysis instead, from what the log shows.
            let reader = try TraceReader(path: path)
            if ForeignTraceAnalysis.isImported(reader) {
                let report = try ForeignTraceAnalysis.analyze(reader: reader)
                bar.finish()
                if json {
                    document = ForeignReportJSON.analysis(report, trace: path, metadata: reader.metadata, end: reader.end)
                } else {
                    Console.out("trace \(path) (imported from strace)\n" + report.renderText())
                }
                code = report.findings.isEmpty ? 0 : 1
            } else {
                let report = try TraceAnalysis.analyze(path: path, options: replay.replayOptions, progress: bar.callback)
                bar.finish()
                if json {
                    document = ReportJSON.analysis(report)
                } else {
                    Console.out(ReportText.render(report))
                }
                code = report.inconsistencyCount > 0 ? 2 : (report.problemCount > 0 ? 1 : 0)
            }
        } catch {
            bar.finish()
            code = Console.badInput(error, trace: path).rawValue
        }
        // A trace that could not be read still prints a JSON value: an empty array.
        if json { Console.out((document ?? JSONValue.array([])).rendered()) }
        if code != 0 { throw ExitCode(code) }
    }

    /// `--json-lines`: each trace in turn, one line per finding as soon as its trace
    /// is done (for `jq` and log shippers).
    private func runLines(_ expansion: TraceArguments.Expansion) throws {
        var worst: Int32 = 0
        for error in expansion.errors {
            Console.err("polltrace: error: \(error.message)\n")
            worst = 2
        }
        for path in expansion.paths {
            do {
                let reader = try TraceReader(path: path)
                if ForeignTraceAnalysis.isImported(reader) {
                    let report = try ForeignTraceAnalysis.analyze(reader: reader)
                    for f in report.findings {
                        Console.out(ReportJSON.findingLine(trace: path, source: "strace", finding: ForeignReportJSON.finding(f))
                                        .renderedOnOneLine() + "\n")
                    }
                    worst = max(worst, report.findings.isEmpty ? 0 : 1)
                    continue
                }
                let report = try TraceAnalysis.analyze(path: path, options: replay.replayOptions)
                for f in report.findings {
                    Console.out(ReportJSON.findingLine(trace: path, source: "native", finding: ReportJSON.finding(f))
                                    .renderedOnOneLine() + "\n")
                }
                worst = max(worst, report.inconsistencyCount > 0 ? 2 : (report.problemCount > 0 ? 1 : 0))
            } catch {
                worst = max(worst, Console.badInput(error, trace: path).rawValue)
            }
        }
        if worst != 0 { throw ExitCode(worst) }
    }

    /// Several traces: `jobs` at a time, a line each and the fleet summary. Each
    /// trace replays on its job's thread alone (no reader thread beside it): the
    /// jobs already keep the cores busy, and a second thread per trace would only
    /// make them take turns.
    private func runFleet(_ expansion: TraceArguments.Expansion) throws {
        let options = replay.replayOptions
        // Traces done, drawn on stderr when it is a terminal, by whichever job finishes one.
        let progress = Mutex((bar: ProgressBar(label: "analyze", unit: "traces"), done: UInt64(0)))
        let total = UInt64(expansion.paths.count)
        let analyzed = FleetAnalysis.run(paths: expansion.paths, jobs: jobs) { path in
            let entry = Self.fleetEntry(path: path, options: options)
            progress.withLock { state in
                state.done += 1
                state.bar.callback?(state.done, total)
            }
            return entry
        }
        progress.withLock { $0.bar.finish() }
        var results = analyzed.makeIterator()
        let entries = expansion.items.map { item -> FleetEntry in
            switch item {
            case .trace: results.next()!
            case .error(let argument, let message): .badInput(argument, error: message)
            }
        }
        for entry in entries where entry.status == .badInput { Console.err("polltrace: error: \(entry.error ?? entry.trace)\n") }
        Console.out(json ? FleetReport.json(entries).rendered() : FleetReport.text(entries))
        let code = FleetSummary(entries).exitCode
        if code != 0 { throw ExitCode(code) }
    }

    private static func fleetEntry(path: String, options: ReplayOptions) -> FleetEntry {
        do {
            let reader = try TraceReader(path: path)
            if ForeignTraceAnalysis.isImported(reader) {
                let report = try ForeignTraceAnalysis.analyze(reader: reader, largeFrom: .max)  // one thread per job
                var entry = FleetEntry(trace: path, status: report.findings.isEmpty ? .clean : .findings)
                entry.imported = true
                entry.records = UInt64((try? reader.recordCount()) ?? 0)
                for finding in report.findings { entry.findingsByKind[finding.kind.rawValue, default: 0] += 1 }
                return entry
            }
            return FleetEntry(report: try TraceAnalysis.analyze(path: path, options: options, pipelined: false))
        } catch {
            return .badInput(path, error: "\(error)")
        }
    }
}
