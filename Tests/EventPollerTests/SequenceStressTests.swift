import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// Many pollers and threads recording into one sequence at once.
final class SequenceStressTests: XCTestCase {
    func testManyPollersAndThreads_recordSequenceNumbersThatAreUniqueAndGapFree() throws {
        let collector = RecordCollector()
        let group = try PollerGroup(count: 4, recorder: collector, labelPrefix: "stress")
        try group.start()
        let posters = 4, tasksPerPoster = 250
        let handled = SharedBox(0)
        DispatchQueue.concurrentPerform(iterations: posters) { _ in
            for _ in 0..<tasksPerPoster {
                let poller = group.next()
                // Each task opens a ready eventfd and registers it; its handler closes it.
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
        XCTAssertEqual(handled.value, expected, "every registered eventfd should have been dispatched once")

        let seqs = collector.records.map(\.seq)
        XCTAssertEqual(seqs.count, Int(collector.sequence.current),
                       "every sequence number handed out must belong to exactly one record")
        XCTAssertEqual(seqs, Array(1...collector.sequence.current), "sequence numbers must be unique and gap-free")
        print("stress: \(seqs.count) records from \(group.pollers.count) pollers and \(posters) posting threads")
    }
}
