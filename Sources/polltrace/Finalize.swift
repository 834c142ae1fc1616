import ArgumentParser
import Foundation
import PollTraceCore
import PollTraceStore
import PollTraceStrace

/// `finalize` and `upgrade`: one conversion, named for the two reasons a user has to
/// run it. Both read the trace read-only and write a new file.
struct Finalize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Make the v7 tables of a trace whose writer never closed it, or of an older version.",
        discussion: """
        A trace is recorded in a compact form and turned into the plain, documented \
        tables of schema version 7 (docs/schema.md) when its writer closes it. A \
        trace left by a killed process, a lost machine or a full disk has only the \
        compact form: analyze, verify and stats read it as it is, and this command \
        writes the v7 trace, with every committed record and the replay's verdicts \
        and findings, to a new file. `polltrace upgrade` is the same command, for \
        traces written by PollTrace versions before schema 7.

        The input is only read. The output is written beside its final path and \
        renamed into place when complete. Exit codes: 0 written, 2 bad input.
        """,
        aliases: ["upgrade"])

    @Argument(help: "The trace to convert (read-only).")
    var trace: String

    @Option(name: .shortAndLong, help: "Where to write the v7 trace.")
    var output: String

    @Flag(name: .long, help: "Replace the output file if it exists.")
    var force = false

    func validate() throws {
        if !force && FileManager.default.fileExists(atPath: output) {
            throw ValidationError("\(output) exists; choose another path or give --force.")
        }
        if Self.sameFile(trace, output) {
            throw ValidationError("the output must be a new file, not the trace being read (\(trace)).")
        }
    }

    func run() throws {
        let bar = ProgressBar(label: "finalize \(trace)")
        do {
            let reader = try TraceReader(path: trace)
            if reader.isPlain {
                Console.err("polltrace: error: \(trace) already has the schema version \(reader.metadata.schemaVersion) tables; nothing to do\n")
                throw ExitCode(2)
            }
            let imported = ForeignTraceAnalysis.isImported(reader)
            let summary = try TraceFinalizer.finalize(source: trace, destination: output, verdicts: imported ? .none : .replay,
                                                      progress: bar.callback.map { callback in { callback($0, nil) } })
            if imported { try StraceLineTable.finishUpgrade(tracePath: output) }
            bar.finish()
            Console.out("\(output): schema version \(TraceMetadata.currentSchemaVersion), \(summary.records) records, \(summary.findings) findings"
                        + " (the trace was \(reader.end.sentence))\n")
        } catch let code as ExitCode {
            bar.finish()
            throw code
        } catch {
            bar.finish()
            throw Console.badInput(error, trace: trace)
        }
    }

    static func sameFile(_ a: String, _ b: String) -> Bool {
        var x = stat(), y = stat()
        guard stat(a, &x) == 0, stat(b, &y) == 0 else { return false }
        return x.st_dev == y.st_dev && x.st_ino == y.st_ino
    }
}
