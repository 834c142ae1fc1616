import ArgumentParser
import Foundation
import Logging
import PollTraceAnalysis
import PollTraceCore
import PollTraceDaemon

/// `polltrace demo`: reproduce the seed bug with polltraced under churn, then run
/// the same churn against the fix, and say honestly what the traces show.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reproduce the seed bug with polltraced under churn, then show that the guarded policy fixes it.",
        discussion: """
        Runs polltraced in this process twice, first with --dispatch naive and then with \
        --dispatch guarded, drives each with the seed's churn (services closed and \
        re-opened while datagrams and TCP connects keep their fds busy) from threads of \
        this process over 127.0.0.1, stops it, and runs analyze and verify on its trace. \
        Traces are left in --trace-dir. Exit 0 when the bug showed under naive and the \
        fix held under guarded; 1 when either did not.
        """
    )

    @Option(help: "Seconds of churn per policy (the whole demo takes a little over twice this).")
    var seconds: Double = 5

    @Option(help: "Directory for the two traces.")
    var traceDir = "traces"

    @Option(help: "Event loop threads in the daemon.")
    var pollers = 1

    func validate() throws {
        guard seconds > 0, seconds <= 50 else { throw ValidationError("--seconds must be in (0, 50] so the demo stays under 2 minutes") }
        guard (1...8).contains(pollers) else { throw ValidationError("--pollers must be in 1...8") }
    }

    /// The misrouted dispatches as the trace's `findings` table has them: the
    /// handler each event was harvested for beside the one that ran (docs/schema.md).
    static let misroutedSQL = "SELECT seq, fd, harvested_label, ran_label, closed_by_label, reused_by_label "
        + "FROM findings WHERE kind = 'misrouted' ORDER BY seq LIMIT 20"
    static let suppressionsSQL = "SELECT suppression, count(*) AS dispatches FROM dispatches WHERE suppression IS NOT NULL GROUP BY suppression"

    private struct Run {
        var policy: DispatchPolicy
        var trace: String
        var churn: ChurnScenario.Result
        var stats: DaemonStats.Snapshot
        var analysis: AnalysisReport
        var verification: VerificationReport
    }

    func run() throws {
        let started = Date()
        var runs: [Run] = []
        for policy in [DispatchPolicy.naive, .guarded] {
            runs.append(try runOnce(policy: policy))
        }
        let naive = runs[0], guarded = runs[1]

        print("\nverdict")
        let verdict = DemoVerdict(naive: DemoVerdict.Outcome(analysis: naive.analysis, verification: naive.verification),
                                  guarded: DemoVerdict.Outcome(analysis: guarded.analysis, verification: guarded.verification),
                                  naiveSeconds: naive.churn.seconds)
        let lines = verdict.lines
        for line in lines.dropLast() { print("  " + line) }
        print("  \(lines.last ?? ""); demo took \(String(format: "%.0f", Date().timeIntervalSince(started))) s.")

        print("\nexplore the traces (read-only; `sqlite3 -readonly FILE \"SQL\"` works too):")
        print("  # events that ran a handler other than the one they were harvested for:")
        print("  swift run polltrace query \(naive.trace) \"\(Self.misroutedSQL)\"")
        print("  # what the guard dropped, and why:")
        print("  swift run polltrace query \(guarded.trace) \"\(Self.suppressionsSQL)\"")
        print("  swift run polltrace analyze \(naive.trace)")
        print("  swift run polltrace verify \(naive.trace)")
        print("  swift run polltrace timeline \(naive.trace) --finding 1 -o finding-1.json   # open in https://ui.perfetto.dev")

        // The naive trace drawn: each finding's interleaving, the timeline, histograms.
        let reportPath = (naive.trace as NSString).deletingPathExtension + ".html"
        do {
            let html = try Report.render(trace: naive.trace)
            let file = try OutputFile(path: reportPath)
            try file.write(html)
            try file.commit()
            print("\nreport of the naive trace: \(reportPath) (one self-contained HTML file; open it in a browser)")
        } catch {
            Console.err("polltrace: could not write the report \(reportPath): \(error)\n")
        }
        if !(verdict.reproduced && verdict.fixHeld) { throw ExitCode(1) }
    }

    private func runOnce(policy: DispatchPolicy) throws -> Run {
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.pollers = pollers
        configuration.dispatch = policy
        configuration.trace = TraceSettings(directory: traceDir, prefix: "demo-\(policy)")
        var logger = Logger(label: "polltraced")
        logger.logLevel = .warning
        let daemon: PollTraceDaemon
        do {
            daemon = try PollTraceDaemon(configuration: configuration, logger: logger)
        } catch {
            throw ValidationError("could not start polltraced: \(error)")
        }
        do {
            try daemon.start()
        } catch {
            try? daemon.stop()
            throw ValidationError("could not start polltraced: \(error)")
        }
        print("== \(policy): polltraced on 127.0.0.1:\(daemon.controlPort), dispatch \(policy), \(pollers) poller(s); churn for \(String(format: "%g", seconds)) s")
        let churn = ChurnScenario(controlPort: daemon.controlPort, seconds: seconds).run()
        let stats = daemon.stats.snapshot
        try daemon.stop()
        guard let trace = daemon.recorder?.completedPaths.last else {
            throw ValidationError("polltraced left no trace in '\(traceDir)'")
        }
        print("   churn: \(churn.replacements) service replacements, \(churn.datagrams) datagrams, \(churn.connections) TCP connects, \(churn.failures) failed calls")
        print("   daemon: \(stats.batches) batches, \(stats.dispatchesRan) dispatches ran, \(stats.suppressed.values.reduce(0, +)) suppressed, \(stats.emptyWakeups) empty wake-ups")
        let analysis = try TraceAnalysis.analyze(path: trace)
        let verification = try FixVerification.verify(path: trace)
        print("   trace \(trace): \(analysis.recordCount) records; "
              + FindingKind.allCases.filter { $0 != .correct }.map { "\($0) \(analysis.count($0))" }.joined(separator: ", "))
        print("   verify: \(verification.passed ? "PASS" : "FAIL"), \(verification.staleSuppressed) stale dispatches suppressed by the fix in replay")
        return Run(policy: policy, trace: trace, churn: churn, stats: stats, analysis: analysis, verification: verification)
    }
}

/// The demo's lines go through `Console`, like every other verb's output.
private func print(_ line: String) { Console.out(line + "\n") }
