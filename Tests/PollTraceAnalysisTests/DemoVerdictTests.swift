import PollTraceAnalysis
import XCTest

/// Every sentence `polltrace demo` can end with, decided from the numbers of its
/// two runs: it says what the traces show and no more.
final class DemoVerdictTests: XCTestCase {
    private let guardedHeld = DemoVerdict.Outcome(records: 900, justifiedSuppressions: 12, verifyPassed: true)

    func testEveryStaleDispatchSuppressed_noExplanationLine_andTheFixHeld() {
        let naive = DemoVerdict.Outcome(records: 1_000, misrouted: 5, deadRegistration: 2, spins: 1, suppressedInReplay: 7)
        let verdict = DemoVerdict(naive: naive, guarded: guardedHeld, naiveSeconds: 5)
        XCTAssertTrue(verdict.reproduced)
        XCTAssertTrue(verdict.fixHeld)
        XCTAssertEqual(verdict.unjudgedStaleDispatches, 0)
        XCTAssertEqual(verdict.lines, [
            "under naive:   7 stale dispatches (misrouted: 5, dead registration: 2, spins: 1);",
            "               replayed through the guarded dispatcher, 7 of them are suppressed (verify PASS).",
            "under guarded: 0 stale dispatches, 12 justified suppressions, 0 lost events (verify PASS).",
            "the fix held",
        ])
    }

    /// The clean-clone case of session 9: 33,978 of 33,979 suppressed, verify PASS.
    /// The one left over fell on a diverged fd, and the verdict must say so.
    func testFewerSuppressedThanFound_withVerifyPassing_explainsTheRestAsNotJudged() {
        let naive = DemoVerdict.Outcome(misrouted: 33_979, suppressedInReplay: 33_978, divergentDispatches: 40)
        let verdict = DemoVerdict(naive: naive, guarded: guardedHeld, naiveSeconds: 5)
        XCTAssertEqual(verdict.unjudgedStaleDispatches, 1)
        XCTAssertEqual(verdict.lines[2], "               The other 1 fell on fds whose replay diverged after a suppressed handler's skipped effects: not judged (40 dispatches on diverged fds in all).")
        XCTAssertTrue(verdict.fixHeld)
    }

    /// A failing verify is not explained away: the gap is part of the failure.
    func testFewerSuppressedThanFound_withVerifyFailing_givesNoExplanation() {
        let naive = DemoVerdict.Outcome(misrouted: 10, suppressedInReplay: 4, verifyPassed: false, divergentDispatches: 3)
        let verdict = DemoVerdict(naive: naive, guarded: guardedHeld, naiveSeconds: 5)
        XCTAssertEqual(verdict.unjudgedStaleDispatches, 0)
        XCTAssertFalse(verdict.lines.contains { $0.contains("not judged") }, "\(verdict.lines)")
        XCTAssertTrue(verdict.lines[1].hasSuffix("4 of them are suppressed (verify FAIL)."), verdict.lines[1])
    }

    func testBugDidNotShow_saysSoHonestly_andIsNotReproduced() {
        let naive = DemoVerdict.Outcome(records: 4_321)
        let verdict = DemoVerdict(naive: naive, guarded: guardedHeld, naiveSeconds: 2.6)
        XCTAssertFalse(verdict.reproduced)
        XCTAssertEqual(Array(verdict.lines.prefix(2)), [
            "under naive:   the bug did NOT show in 3 s of churn (0 stale dispatches in 4321 records).",
            "               This is a race: run again, or longer with --seconds.",
        ])
    }

    func testGuardedWithAStaleDispatchOrALostEventOrAFailedVerify_theFixDidNotHold() {
        let naive = DemoVerdict.Outcome(misrouted: 1, suppressedInReplay: 1)
        let broken: [DemoVerdict.Outcome] = [
            DemoVerdict.Outcome(misrouted: 1, justifiedSuppressions: 3),
            DemoVerdict.Outcome(justifiedSuppressions: 3, lostEvents: 1),
            DemoVerdict.Outcome(justifiedSuppressions: 3, verifyPassed: false),
        ]
        for guarded in broken {
            let verdict = DemoVerdict(naive: naive, guarded: guarded, naiveSeconds: 5)
            XCTAssertFalse(verdict.fixHeld, "\(guarded)")
            XCTAssertEqual(verdict.lines.last, "THE FIX DID NOT HOLD", "\(guarded)")
        }
    }

    func testGuardedWithNothingToDrop_saysTheGuardWasNotExercised() {
        let naive = DemoVerdict.Outcome(misrouted: 1, suppressedInReplay: 1)
        let verdict = DemoVerdict(naive: naive, guarded: DemoVerdict.Outcome(records: 10), naiveSeconds: 5)
        XCTAssertTrue(verdict.fixHeld)
        XCTAssertTrue(verdict.lines.contains("               (no stale event arrived in this run, so the guard had nothing to drop)"), "\(verdict.lines)")
    }
}
