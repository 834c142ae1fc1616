import EventPoller
import Glibc
import PollTraceCore
import Synchronization
import XCTest

/// Several pollers in one process share one recorder and one sequence. fds are
/// process-wide, so a close on one poller and the reuse of its number on another
/// must order close-first in the trace.
final class MultiPollerOrderingTests: XCTestCase {
    func testCloseOnOnePoller_thenReuseOnAnother_ordersTheCloseFirst() throws {
        let collector = RecordCollector()
        let group = try PollerGroup(count: 2, recorder: collector)
        let (first, second) = (group.pollers[0], group.pollers[1])
        try group.start()
        defer { XCTAssertNoThrow(try group.shutdown(), "shutdown") }

        let udp = try first.executeAndWait {
            try first.register(fd: try first.makeUDPSocket(), interest: .readable, label: "rtp-udp") { _, _ in }
        }
        try first.executeAndWait { try first.close(udp) }
        let reused = try second.executeAndWait { try second.makeTCPListener() }
        XCTAssertEqual(reused, udp.fd, "precondition: the second poller's listener should get the number the first freed")

        let records = collector.records
        let close = records.first { if case .closed(let c) = $0 { c.fd == udp.fd && c.poller == 1 } else { false } }
        let reopen = records.first { if case .fdOpened(let o) = $0 { o.fd == udp.fd && o.poller == 2 } else { false } }
        let closeSeq = try XCTUnwrap(close?.seq, "the first poller's close must be recorded")
        let reopenSeq = try XCTUnwrap(reopen?.seq, "the second poller's open must be recorded")
        XCTAssertLessThan(closeSeq, reopenSeq, "the close must sort before the reuse of its number")
        // Attribution: on the first poller, the last dispatch before the close is
        // the task that closed it.
        let cause = records.last { $0.poller == 1 && $0.kind == .dispatch && $0.seq < closeSeq }?.dispatch
        XCTAssertEqual(cause?.source, .task, "the close is the side effect of the task that made it: "
                       + "\(records.filter { $0.seq + 8 > closeSeq && $0.seq < closeSeq + 3 })")
    }

    /// Two loops open and close sockets as fast as they can at the same time, so the
    /// kernel hands numbers freed on one thread to the other. Replaying the trace in
    /// sequence order, no fd may be opened while it is open or closed while closed:
    /// that holds only if closes are numbered before close(2) and opens after the
    /// call that created them.
    func testConcurrentChurnOnTwoPollers_neverOrdersAReuseBeforeItsClose() throws {
        let collector = RecordCollector()
        let group = try PollerGroup(count: 2, recorder: collector)
        try group.start()
        let mark = collector.sequence.current
        let iterations = 20_000
        let arrived = SharedBox(0)
        let failures = SharedBox<[String]>([])
        for poller in group.pollers {
            try poller.execute {
                // Start together (bounded wait), so the two loops really overlap.
                arrived.update { $0 += 1 }
                let deadline = monotonicMs() + 5_000
                while arrived.value < 2 && monotonicMs() < deadline { sched_yield() }
                do {
                    for _ in 0..<iterations {
                        let fd = try poller.makeUDPSocket(port: 0)
                        try poller.close(fd: fd)
                    }
                } catch {
                    failures.update { $0.append("\(poller.label): \(error)") }
                }
            }
        }
        for poller in group.pollers { try poller.executeAndWait {} }
        try group.shutdown()
        XCTAssertEqual(failures.value, [])

        var openedBy: [Int32: PollerID] = [:]   // fd -> poller that opened it, while open
        var lastClosedBy: [Int32: PollerID] = [:]
        var crossPollerReuses = 0
        var violations: [String] = []
        for record in collector.records(after: mark) {
            switch record {
            case .fdOpened(let opened):
                if let holder = openedBy[opened.fd] {
                    violations.append("seq \(opened.seq): fd \(opened.fd) opened on poller \(opened.poller) while open on \(holder)")
                }
                if let closer = lastClosedBy[opened.fd], closer != opened.poller { crossPollerReuses += 1 }
                openedBy[opened.fd] = opened.poller
            case .closed(let closed):
                if openedBy.removeValue(forKey: closed.fd) == nil {
                    // fds opened before the mark (the pollers' own) close at shutdown; others must be open.
                    if lastClosedBy[closed.fd] != nil {
                        violations.append("seq \(closed.seq): fd \(closed.fd) closed on poller \(closed.poller) while not open")
                    }
                    continue
                }
                lastClosedBy[closed.fd] = closed.poller
            default:
                break
            }
        }
        XCTAssertEqual(violations.prefix(10), [], "replay in sequence order found fds reused before their close")
        print("churn: \(crossPollerReuses) numbers closed on one poller were reused on the other")
        XCTAssertGreaterThan(crossPollerReuses, 0,
                             "precondition: the two loops should have overlapped and reused each other's numbers")
    }
}

func monotonicMs() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000 + UInt64(now.tv_nsec) / 1_000_000
}
