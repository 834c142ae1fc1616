import PollTraceCore
import PollTraceStore

/// `polltrace report`: one self-contained HTML file (inline CSS and SVG, no script,
/// nothing fetched) that shows what a trace holds: the verdict and counts, each
/// finding's interleaving as a sequence diagram, the timeline around the first
/// findings, histograms of events per batch and of dispatch durations per handler
/// kind, and how the trace ended. Readable in a browser, printed, and in a
/// window as narrow as a terminal.
public enum HTMLReport {
    public struct Options: Sendable {
        /// Findings drawn in detail; the counts always cover every one.
        public var findingLimit: Int
        public var replay: ReplayOptions
        public init(findingLimit: Int = 20, replay: ReplayOptions = ReplayOptions()) {
            self.findingLimit = findingLimit; self.replay = replay
        }
    }

    /// What the foreign-loop analysis found in an imported strace trace (computed by
    /// the caller, which links the strace library).
    public struct ImportedFindings: Sendable {
        public var marks: [LineMark]
        /// Its text report, shown as is.
        public var summary: String
        public init(marks: [LineMark], summary: String) { self.marks = marks; self.summary = summary }
    }

    /// Reads the trace (one replay pass, then a short pass for the timeline) and
    /// returns the HTML document.
    public static func generate(path: String, options: Options = Options(), imported: ImportedFindings? = nil,
                                progress: ProgressCallback? = nil) throws -> String {
        let reader = try TraceReader(path: path)
        let total = try progress.map { _ in UInt64(try reader.recordCount()) }
        var tally = ReportTally(options: options.replay)
        var done: UInt64 = 0
        try TraceWindowReader.read(path: path, window: .whole, baseNs: 0, before: { _ in }, inside: { record in
            tally.consume(record)
            done += 1
            if let progress, done & 0xFFFF == 0 { progress(done, total) }
            return true
        })
        var replayer = tally.replayer
        replayer.finish()
        var analysis = AnalysisReport(trace: path, metadata: reader.metadata, replayer: replayer)
        analysis.end = try TraceAnalysis.checkedEnd(of: reader, recordsRead: analysis.recordCount)
        let timeline = try timelineAroundFirstFindings(path: path, analysis: analysis, imported: imported)
        var page = ReportPage(path: path, metadata: reader.metadata)
        return page.render(analysis: analysis, tally: tally, timeline: timeline, imported: imported, limit: options.findingLimit)
    }

    /// The window from the first problem's batch to the third problem (or a few
    /// hundred records on), capped in size; the trace's first records when it has
    /// no findings.
    static func timelineAroundFirstFindings(path: String, analysis: AnalysisReport, imported: ImportedFindings?) throws -> Timeline? {
        var window: TraceWindow
        var fallback: TraceWindow?
        if let imported, let first = imported.marks.first,
           let seq = try TimelineExtraction.seq(ofLogLine: first.waitLine, path: path) {
            window = .seq((seq > 20 ? seq - 20 : 1)...(seq + 60))
        } else if let first = analysis.findings.first(where: { $0.kind.isProblem }) ?? analysis.findings.first {
            let problems = analysis.findings.filter { $0.kind.isProblem }.prefix(3)
            let start = first.batch.seq
            let end = min(max(first.seq, problems.last?.seq ?? first.seq), first.seq + 150) + 2
            window = .seq(start...end)
            fallback = .seq(start...first.seq + 2)
        } else {
            window = .seq(1...120)
        }
        do {
            return try TimelineExtraction.extract(path: path, window: window, maxEvents: 3000, marks: imported?.marks ?? [])
        } catch TimelineExtraction.Failure.tooLarge {
            guard let fallback else { return nil }
            window = fallback
            return try? TimelineExtraction.extract(path: path, window: window, maxEvents: 3000, marks: imported?.marks ?? [])
        }
    }
}
