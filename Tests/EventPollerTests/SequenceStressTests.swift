import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// Many pollers and threads recording into one sequence at once.
final class SequenceStressTests: XCTestCase {
    func testManyPollersAndThreads_recordSequenceNumbersThatAreUniqueAndGapFree() throws {
        let collector = RecordCollector()
        let handled = try Self.churn(recorder: collector, pollers: 4, posters: 4, tasksPerPoster: 250)
        XCTAssertEqual(handled, 1_000, "every registered eventfd should have been dispatched once")

        let seqs = collector.records.map(\.seq)
        XCTAssertEqual(seqs.count, Int(collector.sequence.current),
                       "every sequence number handed out must belong to exactly one record")
        XCTAssertEqual(seqs, Array(1...collector.sequence.current), "sequence numbers must be unique and gap-free")
    }

    /// Runs `pollers` loops while `posters` threads post tasks to them in turn; each
    /// task opens a ready eventfd and registers it, and its handler closes it. Waits
    /// (at most 20 s) for every handler, shuts the group down, and returns how many ran.
    static func churn(recorder: any TraceRecorder, pollers: Int, posters: Int, tasksPerPoster: Int) throws -> Int {
        let group = try PollerGroup(count: pollers, recorder: recorder, labelPrefix: "stress")
        try group.start()
        let handled = SharedBox(0)
        DispatchQueue.concurrentPerform(iterations: posters) { _ in
            for _ in 0..<tasksPerPoster {
                let poller = group.next()
                try? poller.execute {
                    let fd = try poller.makeEventFD(initialValue: 1)
                    try poller.register(fd: fd, interest: .readable, label: "stress") { _, context in
                        try context.poller.close(context.registration)
                        handled.update { $0 += 1 }
                    }
                }
            }
        }
        let expected = posters * tasksPerPoster
        let deadline = monotonicMs() + 20_000 // bounded: fails instead of hanging
        while handled.value < expected && monotonicMs() < deadline { usleep(1_000) }
        try group.shutdown()
        print("stress: \(recorder.sequence.current) records from \(pollers) pollers and \(posters) posting threads")
        return handled.value
    }
}
