import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import PollTraceStrace

/// `polltrace report`: a self-contained HTML report of one trace.
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained HTML report of a trace: verdict, each finding drawn, timeline, histograms.",
        discussion: """
        One file with inline CSS and SVG, no script and nothing fetched from the \
        network: the verdict and counts; each finding (up to --limit) with its \
        interleaving drawn as a sequence diagram; the timeline around the first \
        findings; histograms of events per batch and of dispatch durations per \
        handler kind; how the trace ended (closed cleanly, records dropped). It \
        prints in a browser and reads in a narrow window. Exit 0 when written, 2 \
        for bad input.
        """)

    @Argument(help: "The trace file (SQLite).")
    var trace: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the HTML ('-' for standard output).")
    var output: String

    @Option(help: "Draw at most this many findings (the counts always cover every one).")
    var limit: Int = 20

    @Option(help: "Report a spin after this many consecutive batches, as `analyze` does.")
    var spinThreshold: Int = ReplayOptions.defaultSpinThreshold

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1 (got \(limit)).") }
        guard spinThreshold >= 2 else { throw ValidationError("--spin-threshold must be at least 2 (got \(spinThreshold)).") }
    }

    func run() throws {
        let bar = ProgressBar(label: "report \(trace)")
        do {
            let html = try Self.render(trace: trace, limit: limit, spinThreshold: spinThreshold, progress: bar.callback)
            bar.finish()
            if output == "-" {
                Console.out(html)
            } else {
                let file = try OutputFile(path: output)
                try file.write(html)
                try file.commit()
                Console.out("wrote \(output) (\(html.utf8.count) bytes)\n")
            }
        } catch {
            bar.finish()
            throw Console.badInput(error, trace: trace)
        }
    }

    /// The report's HTML; imported strace traces get the foreign-loop analysis's findings.
    static func render(trace: String, limit: Int = 20, spinThreshold: Int = ReplayOptions.defaultSpinThreshold,
                       progress: ProgressCallback? = nil) throws -> String {
        let reader = try TraceReader(path: trace)
        var imported: HTMLReport.ImportedFindings?
        if ForeignTraceAnalysis.isImported(reader) {
            let report = try ForeignTraceAnalysis.analyze(reader: reader)
            imported = HTMLReport.ImportedFindings(marks: report.findings.map { f in
                LineMark(kind: f.kind.rawValue, sentence: f.sentence, fd: f.fd, waitLine: f.waitLine,
                         closeLine: f.closeLine, reuseLine: f.reuseLine, accessLine: f.accessLine)
            }, summary: report.renderText())
        }
        let options = HTMLReport.Options(findingLimit: limit, replay: ReplayOptions(spinThreshold: spinThreshold))
        return try HTMLReport.generate(path: trace, options: options, imported: imported, progress: progress)
    }
}
