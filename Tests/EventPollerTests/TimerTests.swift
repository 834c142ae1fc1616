import EventPoller
import PollTraceCore
import XCTest

final class TimerTests: XCTestCase {
    func testOneShotTimer_firesOnce_asATimerDispatch() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 1, recorder: collector)
        defer { try? poller.close() }
        let fired = Box(0)
        let timer = try poller.scheduleTimer(after: .milliseconds(5), label: "once") { _ in fired.value += 1 }
        // Bounded: each iteration waits at most until the timer is due.
        for _ in 0..<100 where fired.value == 0 { try poller.runOnce(timeoutMs: 1_000) }
        try poller.runOnce(timeoutMs: 20)
        XCTAssertEqual(fired.value, 1, "a one-shot timer fires exactly once")
        XCTAssertFalse(poller.cancelTimer(timer), "a fired one-shot timer is no longer scheduled")
        let timerDispatches = collector.records.compactMap(\.dispatch).filter { $0.source == .timer }
        XCTAssertEqual(timerDispatches.map(\.ranRegistrationID), [timer.timerID])
    }

    func testRepeatingTimer_firesUntilItCancelsItself() throws {
        let poller = try EventPoller(id: 1)
        defer { try? poller.close() }
        let fired = Box(0)
        try poller.scheduleTimer(after: .milliseconds(1), repeating: .milliseconds(2), label: "tick") { timer in
            fired.value += 1
            if fired.value == 3 { poller.cancelTimer(timer) }
        }
        for _ in 0..<200 where fired.value < 3 { try poller.runOnce(timeoutMs: 1_000) }
        for _ in 0..<3 { try poller.runOnce(timeoutMs: 5) }
        XCTAssertEqual(fired.value, 3, "the timer cancelled itself on its third run")
    }

    func testCancelledTimer_neverFires() throws {
        let poller = try EventPoller(id: 1)
        defer { try? poller.close() }
        let fired = Box(false)
        let timer = try poller.scheduleTimer(after: .milliseconds(1), label: "cancelled") { _ in fired.value = true }
        XCTAssertTrue(poller.cancelTimer(timer))
        try poller.scheduleTimer(after: .milliseconds(3), label: "later") { _ in }
        for _ in 0..<3 { try poller.runOnce(timeoutMs: 5) }
        XCTAssertFalse(fired.value)
    }
}
