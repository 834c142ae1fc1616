import EventPoller
import Foundation
import Glibc
import PollTraceCore
import PollTraceStore
import XCTest

/// The loop on its own thread: tasks from other threads, stop, join.
final class EventPollerThreadTests: XCTestCase {
    func testTasksPostedFromManyThreads_allRunOnTheLoopThread_asTaskDispatches() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 1, recorder: collector)
        try poller.start()
        let mark = collector.sequence.current
        let ran = SharedBox(0)
        let offLoop = SharedBox(0)
        let threads = 4, tasksPerThread = 50
        DispatchQueue.concurrentPerform(iterations: threads) { _ in
            for _ in 0..<tasksPerThread {
                try? poller.execute {
                    ran.update { $0 += 1 }
                    if !poller.isOnLoopThread { offLoop.update { $0 += 1 } }
                }
            }
        }
        // A task posted last runs after every earlier one (the queue is FIFO).
        let total = try poller.executeAndWait { ran.value }
        try poller.shutdown()

        XCTAssertEqual(total, threads * tasksPerThread, "every posted task must have run before the last one")
        XCTAssertEqual(offLoop.value, 0, "tasks must run on the loop thread")
        let taskDispatches = collector.records(after: mark).compactMap(\.dispatch).filter { $0.source == .task }
        // + executeAndWait's task + close()'s shutdown task
        XCTAssertEqual(taskDispatches.count, threads * tasksPerThread + 2)
    }

    /// `top -H`, `ps -L` and perf show a thread's kernel name. Unnamed, a loop thread
    /// inherited its creator's name (often a Dispatch queue's), so a profile of a
    /// daemon could not tell the loops and the trace writer apart.
    func testLoopThreadAndTraceWriterThread_carryTheirNamesInProc() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("thread-names-\(UUID()).trace").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try TraceWriter(path: path, metadata: TraceFileRecordingTests.metadata(),
                                     options: TraceWriterOptions(mode: .lossless))
        let poller = try EventPoller(id: 7, recorder: writer)
        try poller.start()
        let loopName = try poller.executeAndWait { readName("/proc/thread-self/comm") }
        let names = threadNamesOfThisProcess()
        try poller.shutdown()
        try writer.close()

        XCTAssertEqual(loopName, "poller-7")
        XCTAssertTrue(names.contains("trace-writer"), "no trace-writer thread among \(names)")
    }

    /// Posters keep going while the poller shuts down. The wake-up write happens
    /// after the queue's lock is released, so close must wait for writes already
    /// claimed before it closes the eventfd: otherwise a late write could land in
    /// whatever fd reuses the number next.
    func testTasksPostedDuringShutdown_runExactlyOnceOrAreRefused_andNoWakeUpLandsInAReusedFD() throws {
        for round in 0..<20 {
            let poller = try EventPoller(id: 1)
            try poller.start()
            let ran = SharedBox(0), accepted = SharedBox(0), refused = SharedBox(0)
            let posters = 3
            let started = DispatchSemaphore(value: 0)
            let group = DispatchGroup()
            for _ in 0..<posters {
                DispatchQueue.global().async(group: group) {
                    started.signal()
                    // Bounded: stops at the first refusal, or after 20k posts at most.
                    for _ in 0..<20_000 {
                        do {
                            try poller.execute { ran.update { $0 += 1 } }
                            accepted.update { $0 += 1 }
                        } catch {
                            XCTAssertEqual(error as? EventPollerError, .closed(poller: "poller"))
                            refused.update { $0 += 1 }
                            return
                        }
                    }
                }
            }
            for _ in 0..<posters { started.wait() }
            try poller.shutdown()
            // Numbers the poller just freed (epoll fd, wake-up eventfd) go to new fds.
            var ends: [Int32] = [0, 0]
            XCTAssertEqual(pipe(&ends), 0)
            let flags = fcntl(ends[0], F_GETFL)
            _ = fcntl(ends[0], F_SETFL, flags | O_NONBLOCK)
            XCTAssertEqual(group.wait(timeout: .now() + 30), .success, "round \(round): a poster hung")
            var byte: UInt8 = 0
            XCTAssertEqual(read(ends[0], &byte, 1), -1, "round \(round): a wake-up write reached a reused fd")
            close(ends[0]); close(ends[1])
            // close() runs the tasks still queued, so every accepted one ran once.
            XCTAssertEqual(ran.value, accepted.value, "round \(round)")
            XCTAssertLessThanOrEqual(refused.value, posters)
        }
    }

    func testStop_fromAnotherThread_endsTheLoop_andJoinWaitsForIt() throws {
        let poller = try EventPoller(id: 1)
        try poller.start()
        XCTAssertTrue(poller.isRunning)
        XCTAssertFalse(poller.isOnLoopThread, "the test thread is not the loop thread once started")
        XCTAssertThrowsError(try poller.start(), "a running poller cannot be started twice") { error in
            XCTAssertEqual(error as? EventPollerError, .alreadyRunning(poller: "poller"))
        }
        XCTAssertThrowsError(try poller.close(), "close must refuse while the loop runs") { error in
            XCTAssertEqual(error as? EventPollerError, .stillRunning(poller: "poller"))
        }
        poller.stop()
        try poller.join()
        XCTAssertFalse(poller.isRunning)
        // Idle again: the test thread may use it, and run it again.
        try poller.start()
        try poller.shutdown()
        XCTAssertTrue(poller.isClosed)
    }

    func testStop_fromAHandler_returnsFromRun() throws {
        let poller = try EventPoller(id: 1)
        defer { try? poller.close() }
        let efd = try poller.makeEventFD(initialValue: 1)
        try poller.register(fd: efd, interest: .readable, label: "stopper") { _, context in
            context.poller.stop()
            XCTAssertThrowsError(try context.poller.join(), "join on the loop thread would deadlock; it must throw")
        }
        try poller.run() // returns because the handler stopped it
        XCTAssertFalse(poller.isRunning)
    }

    func testExecuteAndWait_registersOnTheLoopThread_andReturnsTheRegistration() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 2, recorder: collector)
        try poller.start()
        let fired = SharedBox(false)
        let registration = try poller.executeAndWait {
            let efd = try poller.makeEventFD(initialValue: 1)
            return try poller.register(fd: efd, interest: .readable, label: "posted") { _, context in
                fired.update { $0 = true }
                try context.poller.close(context.registration)
            }
        }
        // Bounded wait for the loop to dispatch the ready eventfd.
        for _ in 0..<500 where !fired.value { usleep(10_000) }
        try poller.shutdown()
        XCTAssertTrue(fired.value, "the eventfd registered from another thread should have been dispatched")
        let ran = collector.records.compactMap(\.dispatch).filter { $0.source == .event }.map(\.ranRegistrationID)
        XCTAssertTrue(ran.contains(registration.registrationID))
    }
}

private func readName(_ path: String) -> String? {
    (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
}

private func threadNamesOfThisProcess() -> [String] {
    let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tids.compactMap { readName("/proc/self/task/\($0)/comm") }
}
