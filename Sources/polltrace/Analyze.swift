import ArgumentParser
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import PollTraceStrace

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay traces and report stale dispatches, lost and orphan events, and spins.",
        discussion: """
        Each trace is replayed in sequence order against a simulated fd table and a \
        simulated interest list per poller. Every finding shows its interleaving: the \
        batch and event, which dispatch closed the fd, which opened and registered the \
        new one, and which handler ran. Exit codes: 0 clean, 1 findings, 2 bad input \
        (a trace that cannot be read, or one with inconsistent records).
        """)

    @Argument(help: "Trace files (SQLite).")
    var traces: [String]

    @Flag(name: .long, help: "Print JSON (one object for one trace, an array for several) instead of text.")
    var json = false

    @OptionGroup var replay: ReplayOptionGroup

    func validate() throws {
        guard !traces.isEmpty else { throw ValidationError("Give at least one trace file.") }
    }

    func run() throws {
        var worst: Int32 = 0
        var documents: [JSONValue] = []
        for (i, path) in traces.enumerated() {
            let bar = ProgressBar(label: "analyze \(path)")
            do {
                // An imported strace log has no dispatch records to replay: it gets the
                // foreign-loop hazard analysis instead, from what the log shows.
                let reader = try TraceReader(path: path)
                if ForeignTraceAnalysis.isImported(reader) {
                    let report = try ForeignTraceAnalysis.analyze(reader: reader)
                    bar.finish()
                    if json {
                        documents.append(.verbatim(report.renderJSON()))
                    } else {
                        Console.out((i > 0 ? "\n" : "") + "trace \(path) (imported from strace)\n" + report.renderText())
                    }
                    worst = max(worst, report.findings.isEmpty ? 0 : 1)
                    continue
                }
                let report = try TraceAnalysis.analyze(path: path, options: replay.replayOptions, progress: bar.callback)
                bar.finish()
                if json {
                    documents.append(ReportJSON.analysis(report))
                } else {
                    Console.out((i > 0 ? "\n" : "") + ReportText.render(report))
                }
                worst = max(worst, report.inconsistencyCount > 0 ? 2 : (report.problemCount > 0 ? 1 : 0))
            } catch {
                bar.finish()
                worst = max(worst, Console.badInput(error, trace: path).rawValue)
            }
        }
        if json {
            Console.out(documents.count == 1 && traces.count == 1 ? documents[0].rendered() : JSONValue.array(documents).rendered())
        }
        if worst != 0 { throw ExitCode(worst) }
    }
}
