import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// The bug PollTrace exists for, rebuilt with real sockets and real epoll.
///
/// One batch holds, in this order:
///   0. a control eventfd, whose handler closes the UDP socket;
///   1. a listening TCP socket with a pending connection, whose handler opens a new
///      TCP listener: the kernel hands it the lowest free number, the UDP socket's;
///   2. the UDP socket's event (it is writable), harvested before 0 closed it.
/// Each policy then does something different with event 2, and records it.
enum SeedScenario {
    /// What a handler saw when event 2 reached it.
    enum Seen: Equatable {
        case newListener(mask: IOEvents, accepted: Int32?)
        case udpSocket(mask: IOEvents, stillRegistered: Bool)
    }

    struct SeedRun {
        var policy: DispatchPolicy
        var mark: SequenceNumber
        var records: [TraceRecord]
        var control: Registration
        var listener: Registration
        var udp: Registration
        var newListener: Registration?
        var seen: [Seen]
    }

    /// Builds the seed's batch on a fresh poller with `policy`, runs it once, and
    /// checks the preconditions the kernel decides (batch order, fd reuse).
    ///
    /// `recorder` defaults to an in-memory collector; `readBack` returns every
    /// record the recorder got, and runs after the poller is closed (a file-backed
    /// recorder closes and reads its file there).
    static func reproduce(policy: DispatchPolicy, recorder: (any TraceRecorder)? = nil,
                       readBack: (() throws -> [TraceRecord])? = nil,
                       file: StaticString = #filePath, line: UInt = #line) throws -> SeedRun {
        let collector = RecordCollector()
        let recorder = recorder ?? collector
        let readBack = readBack ?? { collector.records }
        let poller = try EventPoller(id: 1, policy: policy, recorder: recorder, label: "seed-\(policy)")
        defer { try? poller.close() }

        // The UDP socket first: it gets the lowest free number, so once it is closed
        // that number is again the lowest free one and the new listener receives it.
        let udpFD = try poller.makeUDPSocket()
        let controlFD = try poller.makeEventFD()
        let listenerFD = try poller.makeTCPListener()
        let clientFD = try poller.connectTCP(port: try Linux.Socket.localPort(listenerFD))
        XCTAssertTrue(waitReadable(listenerFD), "precondition: the client's connection should be pending on the listener",
                      file: file, line: line)
        try Linux.EventFd.write(fd: controlFD)

        let udp = Box<Registration?>(nil)
        let newListener = Box<Registration?>(nil)
        let seen = Box<[Seen]>([])
        let mark = recorder.sequence.current

        // All three are ready before they are registered, so each goes onto epoll's
        // ready list at its EPOLL_CTL_ADD, and the batch returns them in this order.
        let control = try poller.register(fd: controlFD, interest: .readable, label: "control-api") { _, context in
            _ = try Linux.EventFd.read(fd: context.registration.fd)
            try context.poller.close(udp.value!) // "release the UDP service"
        }
        let listener = try poller.register(fd: listenerFD, interest: .readable, label: "tcp-listener") { _, context in
            // "Open a new TCP server" (without accepting first: an accepted
            // connection would take the freed number instead).
            let fd = try context.poller.makeTCPListener()
            newListener.value = try context.poller.register(fd: fd, interest: .readable, label: "new-tcp-listener") {
                mask, context in
                let accepted = try context.poller.accept(listenerFD: context.registration.fd)
                seen.value.append(.newListener(mask: mask, accepted: accepted))
            }
        }
        udp.value = try poller.register(fd: udpFD, interest: [.readable, .writable], label: "rtp-udp") { mask, context in
            seen.value.append(.udpSocket(mask: mask, stillRegistered: context.poller.interest(of: context.registration) != nil))
        }

        XCTAssertEqual(try poller.runOnce(timeoutMs: 5_000), 3, "precondition: one batch with all three events",
                       file: file, line: line)
        let end = recorder.sequence.current
        try poller.close(fd: clientFD)
        try poller.close()
        let records = try readBack().filter { $0.seq > mark && $0.seq <= end }.map(\.withoutTimes)
        let batch = records.compactMap(\.batch).first
        XCTAssertEqual(batch?.events.map(\.fd), [controlFD, listenerFD, udpFD],
                       "precondition: epoll returns ready fds in the order they became ready (here: registration order)",
                       file: file, line: line)
        XCTAssertEqual(batch?.events.map(\.mask), [.readable, .readable, .writable],
                       "precondition: control and listener readable, the idle UDP socket only writable",
                       file: file, line: line)
        XCTAssertEqual(newListener.value?.fd, udpFD,
                       "precondition: the new listener must reuse the closed UDP socket's number (lowest free fd); "
                       + "another fd below it was freed meanwhile", file: file, line: line)
        return SeedRun(policy: policy, mark: mark, records: records, control: control, listener: listener,
                       udp: udp.value!, newListener: newListener.value, seen: seen.value)
    }

    /// The exact trace of the seed batch; only the last dispatch differs by policy.
    static func expectedRecords(_ run: SeedRun, lastDispatch: (ran: RegistrationID, mask: IOEvents, suppression: SuppressionReason?))
        -> [TraceRecord] {
        let s = run.mark
        let newListener = run.newListener?.registrationID ?? 0
        func data(_ registration: RegistrationID, _ fd: Int32) -> UInt64 {
            run.policy == .guarded ? EpollData.pack(registrationID: registration, fd: fd) : UInt64(fd)
        }
        func registered(_ seq: SequenceNumber, _ registration: RegistrationID, _ fd: Int32, _ interest: IOEvents,
                        _ label: String) -> TraceRecord {
            .registered(Registered(seq: seq, timeNs: 0, poller: 1, registrationID: registration, fd: fd,
                                   interest: interest, data: data(registration, fd), handlerLabel: label))
        }
        func dispatch(_ seq: SequenceNumber, _ index: UInt32, _ ran: RegistrationID, _ mask: IOEvents,
                      _ suppression: SuppressionReason? = nil) -> TraceRecord {
            .dispatch(Dispatch(seq: seq, timeNs: 0, poller: 1, source: .event, batchSeq: s + 4, eventIndex: index,
                               ranRegistrationID: ran, deliveredMask: mask, suppression: suppression,
                               handlerThrew: false, durationNs: 0))
        }
        let (control, listener, udp) = (run.control, run.listener, run.udp)
        return [
            registered(s + 1, control.registrationID, control.fd, .readable, "control-api"),
            registered(s + 2, listener.registrationID, listener.fd, .readable, "tcp-listener"),
            registered(s + 3, udp.registrationID, udp.fd, [.readable, .writable], "rtp-udp"),
            .batch(BatchHarvested(seq: s + 4, timeNs: 0, poller: 1, batchNumber: 1, timeoutMs: 5_000, waitedNs: 0, events: [
                HarvestedEvent(fd: control.fd, mask: .readable, data: data(control.registrationID, control.fd)),
                HarvestedEvent(fd: listener.fd, mask: .readable, data: data(listener.registrationID, listener.fd)),
                HarvestedEvent(fd: udp.fd, mask: .writable, data: data(udp.registrationID, udp.fd)),
            ])),
            dispatch(s + 5, 0, control.registrationID, .readable),
            // the control handler's side effects: the UDP socket goes (close numbered before close(2))
            .unregistered(Unregistered(seq: s + 6, timeNs: 0, poller: 1, registrationID: udp.registrationID, fd: udp.fd)),
            .closed(Closed(seq: s + 7, timeNs: 0, poller: 1, fd: udp.fd)),
            dispatch(s + 8, 1, listener.registrationID, .readable),
            // the listener handler's side effects: the same number comes back as a new listener
            .fdOpened(FDOpened(seq: s + 9, timeNs: 0, poller: 1, fd: udp.fd, origin: .socket)),
            registered(s + 10, newListener, udp.fd, .readable, "new-tcp-listener"),
            dispatch(s + 11, 2, lastDispatch.ran, lastDispatch.mask, lastDispatch.suppression),
        ]
    }
}
