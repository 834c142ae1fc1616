import PollTraceCore

/// What `polltrace demo` concludes from its two runs, as plain numbers and text, so
/// that each sentence it can print is decided here and tested without running a
/// daemon. The demo must never claim more than the traces show: a bug that did not
/// show is said to have not shown, and a gap between what analyze found and what
/// verify suppressed is explained rather than left for the reader to puzzle over.
public struct DemoVerdict: Equatable, Sendable {
    /// One policy's run, reduced to what the verdict needs.
    public struct Outcome: Equatable, Sendable {
        public var records: UInt64
        public var misrouted: UInt64
        public var deadRegistration: UInt64
        public var spins: UInt64
        public var justifiedSuppressions: UInt64
        public var lostEvents: UInt64
        /// Stale dispatches the guarded dispatcher suppressed when the trace was
        /// replayed through it (verify).
        public var suppressedInReplay: UInt64
        public var verifyPassed: Bool
        /// Dispatches on fds whose replay departed from the recording, which verify
        /// does not judge.
        public var divergentDispatches: UInt64

        public init(records: UInt64 = 0, misrouted: UInt64 = 0, deadRegistration: UInt64 = 0, spins: UInt64 = 0,
                    justifiedSuppressions: UInt64 = 0, lostEvents: UInt64 = 0, suppressedInReplay: UInt64 = 0,
                    verifyPassed: Bool = true, divergentDispatches: UInt64 = 0) {
            self.records = records; self.misrouted = misrouted; self.deadRegistration = deadRegistration
            self.spins = spins; self.justifiedSuppressions = justifiedSuppressions; self.lostEvents = lostEvents
            self.suppressedInReplay = suppressedInReplay; self.verifyPassed = verifyPassed
            self.divergentDispatches = divergentDispatches
        }

        public init(analysis: AnalysisReport, verification: VerificationReport) {
            self.init(records: analysis.recordCount, misrouted: analysis.count(.misrouted),
                      deadRegistration: analysis.count(.deadRegistration), spins: analysis.count(.spin),
                      justifiedSuppressions: analysis.count(.justifiedSuppression), lostEvents: analysis.count(.lostEvent),
                      suppressedInReplay: verification.staleSuppressed, verifyPassed: verification.passed,
                      divergentDispatches: verification.divergentDispatches)
        }

        public var staleDispatches: UInt64 { misrouted + deadRegistration }
    }

    public var naive: Outcome
    public var guarded: Outcome
    /// Seconds of churn under naive, for the honest "did not show" line.
    public var naiveSeconds: Double

    public init(naive: Outcome, guarded: Outcome, naiveSeconds: Double) {
        self.naive = naive; self.guarded = guarded; self.naiveSeconds = naiveSeconds
    }

    /// The bug showed: naive dispatched at least one stale event.
    public var reproduced: Bool { naive.staleDispatches > 0 }

    /// The fix held: no stale dispatch and no lost event under guarded, and its
    /// trace verifies.
    public var fixHeld: Bool { guarded.staleDispatches == 0 && guarded.lostEvents == 0 && guarded.verifyPassed }

    /// Stale dispatches analyze found under naive that verify neither suppressed
    /// nor failed: they fell on fds whose replay diverged. Zero when verify failed,
    /// because then the gap is part of the failure, not something to explain away.
    public var unjudgedStaleDispatches: UInt64 {
        guard naive.verifyPassed else { return 0 }
        return naive.staleDispatches - min(naive.staleDispatches, naive.suppressedInReplay)
    }

    /// The verdict's lines, without the demo's running time.
    public var lines: [String] {
        var lines: [String] = []
        if reproduced {
            lines.append("under naive:   \(naive.staleDispatches) stale dispatches (misrouted: \(naive.misrouted), dead registration: \(naive.deadRegistration), spins: \(naive.spins));")
            lines.append("               replayed through the guarded dispatcher, \(naive.suppressedInReplay) of them are suppressed (verify \(naive.verifyPassed ? "PASS" : "FAIL")).")
            if unjudgedStaleDispatches > 0 {
                // Once the fix skips a handler that closed or opened fds, the replay's
                // fd table departs from the recording on those fds, and verify does
                // not judge dispatches there (`verify` prints how many).
                lines.append("               The other \(unjudgedStaleDispatches) fell on fds whose replay diverged after a suppressed handler's skipped effects: not judged (\(naive.divergentDispatches) dispatches on diverged fds in all).")
            }
        } else {
            lines.append("under naive:   the bug did NOT show in \(Int(naiveSeconds.rounded())) s of churn (0 stale dispatches in \(naive.records) records).")
            lines.append("               This is a race: run again, or longer with --seconds.")
        }
        lines.append("under guarded: \(guarded.staleDispatches) stale dispatches, \(guarded.justifiedSuppressions) justified suppressions, \(guarded.lostEvents) lost events (verify \(guarded.verifyPassed ? "PASS" : "FAIL")).")
        if guarded.justifiedSuppressions == 0 {
            lines.append("               (no stale event arrived in this run, so the guard had nothing to drop)")
        }
        lines.append(fixHeld ? "the fix held" : "THE FIX DID NOT HOLD")
        return lines
    }
}
