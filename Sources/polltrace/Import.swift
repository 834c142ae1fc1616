import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceStore
import Glibc
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
        Console.err("error: \(message)\n")
        return ExitCode(2)
    }

    /// Imports `log` into `trace` and prints the findings; the exit code says what
    /// was found (0 none, 1 findings, 2 bad input). Shared by `import` and `record`.
    ///
    /// The trace is written to a temporary file beside `trace` and renamed over it
    /// only once the import succeeded: a failed import leaves no trace behind that
    /// could be analyzed as if it were whole, and `--force` replaces the old trace
    /// only with a complete new one.
    static func importAndReport(log: String, trace: String, force: Bool, json: Bool) throws {
        try ImportPaths.check(log: log, trace: trace, force: force)
        let staging = ImportPaths.stagingPath(for: trace)
        let summary: StraceTraceImport.Summary
        let bar = ProgressBar(label: "import \(log)", unit: "MiB of the log read")
        do {
            summary = try StraceTraceImport.importLog(logPath: log, tracePath: staging, overwrite: true,
                                                      progress: importProgress(bar))
            bar.finish()
        } catch {
            bar.finish()
            ImportPaths.remove(staging)
            // The user named -o, not the staging file: say it in their terms.
            throw fail("\(error)".replacingOccurrences(of: staging, with: trace))
        }
        do {
            try check(summary, log: log)
        } catch {
            ImportPaths.remove(staging)
            throw error
        }
        if rename(staging, trace) != 0 {
            let reason = String(cString: strerror(errno))
            ImportPaths.remove(staging)
            throw fail("cannot move the new trace into place at \(trace): \(reason)")
        }
        if let note = summary.timestamps.note(log: log) {
            FileHandle.standardError.write(Data("note: \(note)\n".utf8))
        }
        try print(summary.report, linesRead: summary.linesRead, records: summary.recordsWritten, log: log, trace: trace, json: json)
    }

    /// Refuses an import that found nothing to put in a trace.
    private static func check(_ summary: StraceTraceImport.Summary, log: String) throws {
        if summary.linesRead == 0 {
            throw fail("\(log) is empty: no strace output to import")
        }
        if summary.recordsWritten == 0 {
            Console.err("""
                error: \(log): no fd or epoll calls found in \(summary.linesRead) line(s); is this an strace log?
                \((summary.report.diagnostics?.summary ?? []).map { "  " + $0 }.joined(separator: "\n"))

                """)
            throw ExitCode(2)
        }
    }

    private static func print(_ report: ForeignReport, linesRead: UInt32, records: Int, log: String, trace: String,
                      json: Bool) throws {
        if json {
            // The document `analyze --json` prints for this trace.
            let reader = try? TraceReader(path: trace)
            Console.out(ForeignReportJSON.analysis(report, trace: trace, metadata: reader?.metadata, end: reader?.end).rendered())
        } else {
            Console.out("imported \(linesRead) lines of \(log) into \(trace): \(records) records\n")
            Console.out(report.renderText())
        }
        if !report.findings.isEmpty { throw ExitCode(1) }
    }

    /// The import's progress through `bar`: MiB of the log read, redrawn when the
    /// whole MiB changes (the log is read a MiB at a time), then the last step.
    private static func importProgress(_ bar: ProgressBar) -> ((UInt64?, UInt64?) -> Void)? {
        guard let draw = bar.callback else { return nil }
        return { bytesRead, totalBytes in
            guard let bytesRead else { bar.status("log read; writing the trace's last rows and indexes"); return }
            draw(bytesRead >> 20, totalBytes.map { max(1, $0 >> 20) })
        }
    }
}
