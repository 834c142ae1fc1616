@testable import EventPoller
import Foundation
import Glibc
import PollTraceCore
import Synchronization
import XCTest

/// A recorder that remembers how records arrived: one at a time or together, and
/// what it held at any moment (for handlers that look while their iteration runs).
private final class ArrivalRecorder: TraceRecorder, @unchecked Sendable {
    let sequence = SequenceCounter()
    private let state = Mutex<(records: [TraceRecord], singles: Int, groups: [Int])>(([], 0, []))

    func pollerStarted(_ info: PollerInfo) {}
    func record(_ record: consuming TraceRecord) {
        state.withLock { [record] in $0.records.append(record); $0.singles += 1 }
    }
    func record(contentsOf records: [TraceRecord]) {
        state.withLock { $0.records.append(contentsOf: records); $0.groups.append(records.count) }
    }

    /// Records in the order they arrived (not sorted: arrival order is what is tested).
    var records: [TraceRecord] { state.withLock { $0.records } }
    var singles: Int { state.withLock { $0.singles } }
    /// The size of each group handed over, in order.
    var groups: [Int] { state.withLock { $0.groups } }
}

/// EventPoller hands an iteration's records to the recorder together when the
/// iteration ends (`StagedRecords`): one lock round trip per iteration instead of
/// one per record. These tests pin down what that must not change: nothing lost,
/// arrival in the order made, nothing held while the loop waits, a bound on what
/// one iteration holds, and `executeAndWait` returning only once its dispatch is
/// with the recorder.
final class StagedRecordsTests: XCTestCase {
    func testAnIterationsRecords_arriveTogetherAtItsEnd_inTheOrderMade() throws {
        let recorder = ArrivalRecorder()
        let poller = try EventPoller(id: 1, recorder: recorder)
        defer { try? poller.close() }
        var fds: [Int32] = []
        let seenDuringHandlers = Box<[Int]>([])
        for index in 0..<3 {
            let fd = try poller.makeEventFD()
            fds.append(fd)
            try poller.register(fd: fd, interest: .readable, label: "efd-\(index)") { _, context in
                seenDuringHandlers.value.append(recorder.records.count)
                _ = try Linux.EventFd.read(fd: context.registration.fd)
                // A side effect inside the dispatch: an fd opened and closed.
                let extra = try context.poller.makeEventFD()
                try context.poller.close(fd: extra)
            }
        }
        let beforeIteration = recorder.records.count
        let singlesBefore = recorder.singles
        XCTAssertGreaterThan(singlesBefore, 0, "setup outside an iteration hands records over one at a time, at once")
        for fd in fds { try Linux.EventFd.write(fd: fd) }
        XCTAssertEqual(try poller.runOnce(timeoutMs: 5_000), 3, "all three eventfds were ready before the harvest")

        XCTAssertEqual(seenDuringHandlers.value, [beforeIteration, beforeIteration, beforeIteration],
                       "while the iteration runs, its records are staged, not yet with the recorder")
        XCTAssertEqual(recorder.singles, singlesBefore, "no record of the iteration went over on its own")
        // batch, then per event: the handler's open and close, then its dispatch
        // (a dispatch is recorded when it ends).
        XCTAssertEqual(recorder.groups, [1 + 3 * 3], "one hand-over with every record of the iteration")
        let iteration = Array(recorder.records.dropFirst(beforeIteration))
        assertKinds(iteration, [.batch,
                                .fdOpened, .closed, .dispatch,
                                .fdOpened, .closed, .dispatch,
                                .fdOpened, .closed, .dispatch], "in the order the loop made them")
        let batchSeq = iteration.first?.batch?.seq ?? 0
        XCTAssertEqual(iteration.compactMap(\.dispatch).map(\.batchSeq), [batchSeq, batchSeq, batchSeq])
        XCTAssertEqual(Set(iteration.map(\.seq)).count, iteration.count, "every record kept its own number")
    }

    func testAHandlerThatMakesManyRecords_handsThemOverBeforeTheIterationEnds_losingNone() throws {
        let recorder = ArrivalRecorder()
        let poller = try EventPoller(id: 1, recorder: recorder)
        defer { try? poller.close() }
        let trigger = try poller.makeEventFD()
        let opens = 400  // 800 records: past the staging limit of 512
        let seenMidway = Box(0)
        try poller.register(fd: trigger, interest: .readable, label: "churn") { _, context in
            _ = try Linux.EventFd.read(fd: context.registration.fd)
            let before = recorder.records.count
            for index in 0..<opens {
                let fd = try context.poller.makeEventFD()
                try context.poller.close(fd: fd)
                if index == opens - 1 { seenMidway.value = recorder.records.count - before }
            }
        }
        let mark = recorder.sequence.current
        try Linux.EventFd.write(fd: trigger)
        try poller.runOnce(timeoutMs: 5_000)

        XCTAssertGreaterThan(seenMidway.value, 0, "a long handler must not hold all its records until it returns")
        XCTAssertGreaterThanOrEqual(recorder.groups.count, 2, "at least one hand-over before the iteration's end")
        XCTAssertTrue(recorder.groups.allSatisfy { $0 <= 512 }, "no hand-over larger than the limit: \(recorder.groups)")
        let made = recorder.records.filter { $0.seq > mark }
        XCTAssertEqual(made.count, 1 + 2 * opens + 1, "the batch, every open and close, the dispatch: none lost")
        let expected: [RecordKind] = [.batch] + Array(repeating: [RecordKind.fdOpened, .closed], count: opens).flatMap { $0 } + [.dispatch]
        XCTAssertEqual(made.map(\.kind), expected, "arrival in the order made, across the hand-overs")
        let sideEffects = made.dropFirst().dropLast().map(\.seq)
        XCTAssertEqual(sideEffects, sideEffects.sorted(), "the handler's records in number order")
        XCTAssertLessThan(made.last?.seq ?? 0, sideEffects.first ?? 0,
                          "the dispatch took its number before its handler ran, and is recorded after it")
    }

    func testExecuteAndWait_returnsOnlyOnceItsDispatchIsWithTheRecorder() throws {
        let recorder = ArrivalRecorder()
        let poller = try EventPoller(id: 1, recorder: recorder)
        try poller.start()
        defer { try? poller.shutdown() }
        // The interleaving that matters: the waited-for task is followed, in the same
        // iteration, by a task that keeps the loop busy until the waiting thread has
        // looked. Were the task's records still staged when the wait returned, the
        // waiting thread would find them missing.
        let gate = DispatchSemaphore(value: 0), inGate = DispatchSemaphore(value: 0)
        let looked = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        try poller.execute { inGate.signal(); _ = gate.wait(timeout: .now() + 5) }
        XCTAssertEqual(inGate.wait(timeout: .now() + 5), .success, "the loop runs the gate task")
        let mark = recorder.sequence.current
        let seen = SharedBox<[TraceRecord]>([])
        Thread.detachNewThread {
            try? poller.executeAndWait {
                let fd = try poller.makeEventFD()
                try poller.close(fd: fd)
            }
            seen.update { $0 = recorder.records.filter { $0.seq > mark } }
            looked.signal()
            done.signal()
        }
        // Readiness, not a sleep: the helper's task is in the queue (the loop, held in
        // the gate task, cannot take it out), so the task posted next runs after it.
        let deadline = Date().addingTimeInterval(5)
        while poller.shared.withLock({ $0.tasks.isEmpty }) && Date() < deadline { usleep(1_000) }
        XCTAssertFalse(poller.shared.withLock { $0.tasks.isEmpty }, "the helper thread's executeAndWait posts its task")
        try poller.execute { _ = looked.wait(timeout: .now() + 5) }
        gate.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        let after = seen.value
        XCTAssertTrue(after.contains { $0.dispatch?.source == .task },
                      "the task's dispatch must be recorded when executeAndWait returns: \(after.map(\.kind))")
        XCTAssertEqual(after.filter { $0.kind == .fdOpened || $0.kind == .closed }.count, 2,
                       "and so must its side effects: \(after.map(\.kind))")
    }

    func testAnIdleLoop_holdsNothingBack() throws {
        let recorder = ArrivalRecorder()
        let poller = try EventPoller(id: 1, recorder: recorder)
        let efd = try poller.makeEventFD()
        let handled = SharedBox(0)
        try poller.register(fd: efd, interest: .readable, label: "efd") { _, context in
            _ = try Linux.EventFd.read(fd: context.registration.fd)
            handled.update { $0 += 1 }
        }
        try poller.start()
        defer { try? poller.shutdown() }
        let mark = recorder.sequence.current
        try Linux.EventFd.write(fd: efd)
        // The loop handles the event and then blocks in epoll_wait with nothing to do:
        // its records must already be with the recorder, with no later iteration to push them.
        let deadline = Date().addingTimeInterval(5)
        while recorder.records.filter({ $0.seq > mark }).count < 2, Date() < deadline { usleep(1_000) }
        XCTAssertEqual(handled.value, 1)
        assertKinds(recorder.records.filter { $0.seq > mark }, [.batch, .dispatch],
                    "the batch and its dispatch reach the recorder before the loop waits again")
    }
}
