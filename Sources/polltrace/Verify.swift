import ArgumentParser
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import PollTraceStrace

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a trace through the guarded dispatcher and show that it suppresses every stale dispatch and no correct one.",
        discussion: """
        The replay runs the same Dispatcher the live poller runs, under the guarded \
        policy, against a simulated kernel and registration table fed from the trace. \
        Exit codes: 0 the fix holds, 1 it does not, 2 bad input.
        """)

    @Argument(help: "A trace file (SQLite).")
    var trace: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    @OptionGroup var replay: ReplayOptionGroup

    func run() throws {
        let bar = ProgressBar(label: "verify \(trace)")
        let report: VerificationReport
        do {
            if ForeignTraceAnalysis.isImported(try TraceReader(path: trace)) {
                bar.finish()
                Console.err("polltrace: error: \(trace): imported from strace, so it has no dispatch records to replay "
                            + "through the guarded dispatcher; use `polltrace analyze` for its hazards.\n")
                throw ExitCode(2)
            }
            report = try FixVerification.verify(path: trace, options: replay.replayOptions, progress: bar.callback)
            bar.finish()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            bar.finish()
            throw Console.badInput(error, trace: trace)
        }
        Console.out(json ? ReportJSON.verification(report).rendered() : ReportText.render(report))
        if report.analysis.inconsistencyCount > 0 { throw ExitCode(2) }
        if !report.passed { throw ExitCode(1) }
    }
}
