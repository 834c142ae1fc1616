import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceStore
import PollTraceStrace

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Turn an strace log into a trace and report the fd-reuse hazards it shows.",
        discussion: """
        Reads what strace prints with or without -f (both pid prefixes), -t/-tt/-ttt, \
        -T, -y/-yy, split (unfinished/resumed) calls, and all three epoll_event formats. \
        Lines it cannot read are counted and listed by line number; the import goes on. \
        See docs/strace.md.

        Exit codes: 0 no findings, 1 findings, 2 bad input (no such log, no strace calls \
        in it, or the trace cannot be written).
        """)

    @Argument(help: "The strace log (strace -o FILE …).")
    var log: String

    @Option(name: .shortAndLong, help: "The trace file to write.")
    var output: String

    @Flag(help: "Replace the trace file if it exists.")
    var force = false

    @Flag(help: "Print the findings as JSON instead of text.")
    var json = false

    func run() throws {
        try ImportOutput.importAndReport(log: log, trace: output, force: force, json: json)
    }
}

/// What `import` and `record` print, and the exit code they share.
enum ImportOutput {
    /// Prints `message` as an error and returns exit code 2 (bad input) to throw.
    static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode(2)
    }

    /// Imports `log` into `trace` and prints the findings; the exit code says what
    /// was found (0 none, 1 findings, 2 bad input). Shared by `import` and `record`.
    static func importAndReport(log: String, trace: String, force: Bool, json: Bool) throws {
        let summary: StraceTraceImport.Summary
        do {
            summary = try StraceTraceImport.importLog(logPath: log, tracePath: trace, overwrite: force)
        } catch {
            throw fail("\(error)")
        }
        if let note = summary.timestamps.note(log: log) {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
        try print(summary.report, linesRead: summary.linesRead, records: summary.recordsWritten, log: log, trace: trace, json: json)
    }

    private static func print(_ report: ForeignReport, linesRead: UInt32, records: Int, log: String, trace: String,
                      json: Bool) throws {
        if linesRead == 0 {
            try? FileManager.default.removeItem(atPath: trace)  // nothing in it worth keeping
            throw fail("\(log) is empty: no strace output to import")
        }
        if records == 0 {
            try? FileManager.default.removeItem(atPath: trace)
            FileHandle.standardError.write(Data("""
                error: \(log): no fd or epoll calls found in \(linesRead) line(s); is this an strace log?
                \((report.diagnostics?.summary ?? []).map { "  " + $0 }.joined(separator: "\n"))

                """.utf8))
            throw ExitCode(2)
        }
        if json {
            // The document `analyze --json` prints for this trace.
            let reader = try? TraceReader(path: trace)
            Swift.print(ForeignReportJSON.analysis(report, trace: trace, metadata: reader?.metadata, end: reader?.end)
                            .rendered(), terminator: "")
        } else {
            Swift.print("imported \(linesRead) lines of \(log) into \(trace): \(records) records")
            Swift.print(report.renderText(), terminator: "")
        }
        if !report.findings.isEmpty { throw ExitCode(1) }
    }
}
