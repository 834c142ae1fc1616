import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// The basic loop: register, dispatch, close, epoll_ctl failures, throwing handlers.
final class EventPollerLoopTests: XCTestCase {
    func testRegister_whenEventFDBecomesReadable_runsHandlerAndRecordsBatchAndDispatch() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 1, policy: .guarded, recorder: collector, label: "test")
        defer { try? poller.close() }
        let mark = collector.sequence.current
        let efd = try poller.makeEventFD()
        let seen = Box<[(IOEvents, RegistrationID)]>([])
        let registration = try poller.register(fd: efd, interest: .readable, label: "efd") { mask, context in
            seen.value.append((mask, context.registration.registrationID))
            _ = try Linux.EventFd.read(fd: context.registration.fd)
        }
        try Linux.EventFd.write(fd: efd)
        XCTAssertEqual(try poller.runOnce(timeoutMs: 5_000), 1, "the written eventfd should be the batch's only event")

        XCTAssertEqual(seen.value.map(\.0), [.readable])
        XCTAssertEqual(seen.value.map(\.1), [registration.registrationID])
        let records = collector.records(after: mark)
        assertKinds(records, [.fdOpened, .registered, .batch, .dispatch], "one open, one registration, one batch")
        guard records.count == 4, case .fdOpened(let opened) = records[0], case .registered(let registered) = records[1],
              let batch = records[2].batch, let dispatch = records[3].dispatch else { return }
        XCTAssertEqual(opened.fd, efd)
        XCTAssertEqual(opened.origin, .eventfd)
        XCTAssertEqual(registered.registrationID, registration.registrationID)
        XCTAssertEqual(registered.data, EpollData.pack(registrationID: registration.registrationID, fd: efd),
                       "guarded registers the id beside the fd in epoll_data")
        XCTAssertEqual(registered.handlerLabel, "efd")
        XCTAssertEqual(batch.events, [HarvestedEvent(fd: efd, mask: .readable, data: registered.data)],
                       "the batch holds epoll_data exactly as registered")
        XCTAssertEqual(batch.poller, 1)
        XCTAssertEqual(dispatch.batchSeq, batch.seq)
        XCTAssertEqual(dispatch.eventIndex, 0)
        XCTAssertEqual(dispatch.source, .event)
        XCTAssertEqual(dispatch.ranRegistrationID, registration.registrationID)
        XCTAssertEqual(dispatch.deliveredMask, .readable)
        XCTAssertNil(dispatch.suppression)
        XCTAssertFalse(dispatch.handlerThrew)
    }

    func testClose_recordsUnregisterThenClose_andReleasesTheNumber() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 1, recorder: collector)
        defer { try? poller.close() }
        let efd = try poller.makeEventFD()
        let registration = try poller.register(fd: efd, interest: .readable, label: "efd") { _, _ in }
        let mark = collector.sequence.current
        try poller.close(registration)

        XCTAssertFalse(isOpen(efd), "close through the poller must close the fd")
        let records = collector.records(after: mark)
        XCTAssertEqual(records, [
            .unregistered(Unregistered(seq: mark + 1, timeNs: records.first?.timeNs ?? 0, poller: 1,
                                       registrationID: registration.registrationID, fd: efd)),
            .closed(Closed(seq: mark + 2, timeNs: records.last?.timeNs ?? 0, poller: 1, fd: efd)),
        ])
        XCTAssertThrowsError(try poller.close(registration), "a closed registration cannot be closed again") { error in
            XCTAssertEqual(error as? EventPollerError, .notRegistered(registration))
        }
        XCTAssertThrowsError(try poller.modify(registration, interest: .writable)) { error in
            XCTAssertEqual(error as? EventPollerError, .notRegistered(registration))
        }
    }

    func testRegister_whenEpollCtlFails_throwsAndRecordsTheFailure() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 7, recorder: collector)
        defer { try? poller.close() }
        let efd = try poller.makeEventFD()
        try poller.register(fd: efd, interest: .readable, label: "first") { _, _ in }
        let mark = collector.sequence.current

        XCTAssertThrowsError(try poller.register(fd: efd, interest: .readable, label: "again") { _, _ in }) { error in
            XCTAssertEqual(error as? SyscallError, SyscallError(call: "epoll_ctl", errno: EEXIST))
        }
        let notAnFD: Int32 = 1_000_000
        XCTAssertThrowsError(try poller.register(fd: notAnFD, interest: .readable, label: "bad") { _, _ in }) { error in
            XCTAssertEqual((error as? SyscallError)?.errno, EBADF)
        }
        let failures = collector.records(after: mark).compactMap { record -> CallFailed? in
            if case .callFailed(let failure) = record { failure } else { nil }
        }
        XCTAssertEqual(failures.map(\.call), [.epollAdd, .epollAdd])
        XCTAssertEqual(failures.map(\.fd), [efd, notAnFD])
        XCTAssertEqual(failures.map(\.errno), [EEXIST, EBADF])
        XCTAssertEqual(failures.map(\.poller), [7, 7])
        XCTAssertEqual(collector.records(after: mark).count, 2, "a failed ADD records only the failure")
    }

    func testHandlerThatThrows_isRecordedAndTheLoopGoesOn() throws {
        struct Boom: Error {}
        let collector = RecordCollector()
        let poller = try EventPoller(id: 1, recorder: collector)
        defer { try? poller.close() }
        let efd = try poller.makeEventFD(initialValue: 1)
        let calls = Box(0)
        try poller.register(fd: efd, interest: .readable, label: "thrower") { _, _ in
            calls.value += 1
            throw Boom()
        }
        let mark = collector.sequence.current
        try poller.runOnce(timeoutMs: 5_000)
        try poller.runOnce(timeoutMs: 5_000) // level-triggered and never read: ready again

        XCTAssertEqual(calls.value, 2, "the loop must go on after a handler threw")
        let dispatches = collector.records(after: mark).compactMap(\.dispatch)
        XCTAssertEqual(dispatches.map(\.handlerThrew), [true, true])
    }

    /// The record sites borrow the recorder without retaining it, so the poller
    /// itself must own it: a recorder the caller dropped keeps receiving records,
    /// and goes away with the poller.
    func testThePollerOwnsItsRecorder_forAsLongAsThePollerLives() throws {
        weak var weakCollector: RecordCollector?
        var poller: EventPoller?
        do {
            let collector = RecordCollector()
            weakCollector = collector
            poller = try EventPoller(id: 1, recorder: collector)
        }
        XCTAssertNotNil(weakCollector, "the caller dropped the recorder; the poller must keep it")
        let efd = try XCTUnwrap(poller).makeEventFD(initialValue: 1)
        try poller?.register(fd: efd, interest: .readable, label: "ready") { _, _ in }
        try poller?.runOnce(timeoutMs: 0)
        try poller?.close()
        let kinds = Set(weakCollector?.records.map(\.kind) ?? [])
        XCTAssertTrue(kinds.isSuperset(of: [.batch, .dispatch, .closed]),
                      "records made after the caller let go must reach the recorder: \(kinds)")
        poller = nil
        XCTAssertNil(weakCollector, "the recorder must go away with the poller")
    }

    func testClosedPoller_throwsOnUse() throws {
        let poller = try EventPoller(id: 1)
        try poller.close()
        XCTAssertTrue(poller.isClosed)
        XCTAssertThrowsError(try poller.makeEventFD()) { XCTAssertEqual($0 as? EventPollerError, .closed(poller: "poller")) }
        XCTAssertThrowsError(try poller.register(fd: 0, interest: .readable, label: "x") { _, _ in })
        XCTAssertThrowsError(try poller.execute {})
        XCTAssertThrowsError(try poller.runOnce(timeoutMs: 0))
        XCTAssertThrowsError(try poller.start())
        XCTAssertNoThrow(try poller.close(), "close is idempotent")
    }

    func testPollerClose_closesEveryRegisteredFD_asOneShutdownTask() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 3, recorder: collector)
        let first = try poller.makeEventFD()
        let second = try poller.makeUDPSocket()
        try poller.register(fd: first, interest: .readable, label: "a") { _, _ in }
        try poller.register(fd: second, interest: .readable, label: "b") { _, _ in }
        let mark = collector.sequence.current
        try poller.close()

        for fd in [first, second, poller.epollFD] { XCTAssertFalse(isOpen(fd), "close() must close fd \(fd)") }
        let records = collector.records(after: mark)
        guard let shutdown = records.first?.dispatch else { return XCTFail("close should start with a task dispatch") }
        XCTAssertEqual(shutdown.source, .task)
        let closedFDs = records.compactMap { record -> Int32? in if case .closed(let c) = record { c.fd } else { nil } }
        XCTAssertEqual(closedFDs.count, 4, "the two registered fds, the wake-up eventfd and the epoll fd: \(closedFDs)")
        XCTAssertEqual(Array(closedFDs.prefix(2)), [first, second], "registered fds close first, by fd number")
        XCTAssertEqual(closedFDs.last, poller.epollFD, "the epoll fd closes last")
    }
}
