import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import PollTraceStrace

/// `polltrace timeline`: a window of a trace as Chrome trace-event JSON.
struct Timeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export a window of a trace as a Chrome trace-event JSON timeline (Perfetto UI, chrome://tracing).",
        discussion: """
        One track per poller thread (per traced thread for an imported strace log); \
        each batch a slice holding its dispatches, named by handler, with fd, mask, \
        registration and verdict as args; fd and registration changes as instant \
        events; each stale dispatch marked, with flow arrows from the record that \
        closed its fd and the one that reused the number. Open the file at \
        https://ui.perfetto.dev or chrome://tracing. Exit 0 when written, 2 for bad \
        input or a window over --max-events.
        """)

    @Argument(help: "The trace file (SQLite).")
    var trace: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the JSON ('-' for standard output).")
    var output: String

    @Option(help: "Show the records around this seq (see --radius).")
    var around: UInt64?

    @Option(help: "Show the records around finding N (from 1, numbered as `polltrace analyze` lists them).")
    var finding: Int?

    @Option(help: "With --around or --finding: how many seq numbers either side to show.")
    var radius: UInt64 = 200

    @Option(help: "Start of the window: a seq (1200) or a time since the trace's start (1.5s, 250ms, 40us, 800ns).")
    var from: String?

    @Option(help: "End of the window, in the same unit as --from.")
    var to: String?

    @Option(help: "Refuse (exit 2) a window with more than this many events instead of writing a file no viewer can open.")
    var maxEvents: Int = 1_000_000

    @Flag(help: "Print the summary as JSON.")
    var json = false

    func validate() throws {
        let windows = [around != nil, finding != nil, from != nil || to != nil].filter { $0 }.count
        guard windows <= 1 else { throw ValidationError("Give one of --around, --finding or --from/--to.") }
        if let finding, finding < 1 { throw ValidationError("--finding counts from 1 (got \(finding)).") }
        guard maxEvents > 0 else { throw ValidationError("--max-events must be at least 1 (got \(maxEvents)).") }
        if from != nil || to != nil { _ = try bounds() }
    }

    private func bounds() throws -> TraceWindow {
        func parse(_ text: String?, _ name: String) throws -> WindowBound? {
            guard let text else { return nil }
            guard let bound = WindowBound(parsing: text) else {
                throw ValidationError("--\(name) '\(text)' is neither a seq (1200) nor a time with a unit (1.5s, 250ms, 40us, 800ns).")
            }
            return bound
        }
        guard let window = WindowBound.window(from: try parse(from, "from"), to: try parse(to, "to")) else {
            throw ValidationError("--from and --to must be in the same unit (both seq or both time) and --from must not come after --to.")
        }
        return window
    }

    func run() throws {
        do {
            let reader = try TraceReader(path: trace)
            let imported = ForeignTraceAnalysis.isImported(reader)
            var marks: [LineMark] = []
            if imported {
                marks = try ForeignTraceAnalysis.analyze(reader: reader).findings.map { f in
                    LineMark(kind: f.kind.rawValue, sentence: f.sentence, fd: f.fd, waitLine: f.waitLine,
                             closeLine: f.closeLine, reuseLine: f.reuseLine, accessLine: f.accessLine)
                }
            }
            var window = try bounds()
            if let around { window = .around(around, radius: radius) }
            if let finding {
                let seq: SequenceNumber
                if imported {
                    guard finding <= marks.count else { throw TimelineExtraction.Failure.noSuchFinding(index: finding, found: marks.count) }
                    seq = try TimelineExtraction.seq(ofLogLine: marks[finding - 1].targetLine, path: trace) ?? 1
                } else {
                    seq = try TimelineExtraction.seq(ofFinding: finding, path: trace)
                }
                window = .around(seq, radius: radius)
            }
            let timeline = try TimelineExtraction.extract(path: trace, window: window, maxEvents: maxEvents, marks: marks)
            // An empty window is almost always a seq or time past the trace's end.
            if timeline.firstSeq == 0 {
                throw ValidationError("\(trace): no record is in \(timeline.windowDescription); `polltrace stats \(trace)` shows the trace's seq and time range")
            }
            try writeOutput(timeline)
            let stale = timeline.instants.filter { $0.category == "stale" }.count
            let summary = "\(timeline.eventCount) events on \(timeline.tracks.count) track(s) for \(timeline.windowDescription)"
                + " (records seq \(timeline.firstSeq)...\(timeline.lastSeq)): \(timeline.slices.count) slices, "
                + "\(timeline.instants.count) instants, \(timeline.flows.count) flows, \(stale) stale dispatches marked"
            if json {
                let doc = JSONValue.object([
                    ("trace", .string(trace)), ("output", .string(output)), ("window", .string(timeline.windowDescription)),
                    ("first_seq", .uint(timeline.firstSeq)), ("last_seq", .uint(timeline.lastSeq)),
                    ("tracks", .int(Int64(timeline.tracks.count))), ("events", .int(Int64(timeline.eventCount))),
                    ("slices", .int(Int64(timeline.slices.count))), ("instants", .int(Int64(timeline.instants.count))),
                    ("flows", .int(Int64(timeline.flows.count))), ("stale_marked", .int(Int64(stale))),
                ])
                if output != "-" { Console.out(doc.rendered() + "\n") }
            } else if output != "-" {
                Console.out("wrote \(output): \(summary)\n")
            }
        } catch {
            throw Console.badInput(error, trace: trace)
        }
    }

    private func writeOutput(_ timeline: PollTraceAnalysis.Timeline) throws {
        if output == "-" {
            TraceEventExport.write(timeline) { FileHandle.standardOutput.write(Data($0.utf8)) }
            return
        }
        let file = try OutputFile(path: output)
        try TraceEventExport.write(timeline) { try file.write($0) }
        try file.commit()
    }
}
