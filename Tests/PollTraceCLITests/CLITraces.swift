import Foundation
import PollTraceCore
import PollTraceStore

/// Traces for the CLI tests, written by the real trace writer. The dispatch
/// decisions come from the real `Dispatcher`.
enum CLITraces {
    struct Table: RegistrationLookup {
        var byFD: [Int32: RegistrationState] = [:]
        func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }
    }

    /// Builds records for one poller running the seed's batch, starting at `seq`.
    struct Builder {
        var records: [TraceRecord] = []
        var seq: SequenceNumber = 0
        var nextID: RegistrationID = 1

        mutating func next() -> SequenceNumber { seq += 1; return seq }

        /// [control, listener, udp]: control closes udp, listener reopens its number,
        /// then udp's stale event is dispatched under `policy`.
        mutating func seedBatch(poller: PollerID, policy: DispatchPolicy, fds: (Int32, Int32, Int32), lossyGuard: Bool = false) {
            let dispatcher = Dispatcher(policy: policy)
            var table = Table()
            func open(_ fd: Int32, by p: PollerID) {
                records.append(.fdOpened(FDOpened(seq: next(), timeNs: seq * 1000, poller: p, fd: fd, origin: .socket)))
            }
            func register(_ fd: Int32, _ interest: IOEvents, _ label: String) -> RegistrationID {
                let id = nextID
                nextID += 1
                table.byFD[fd] = RegistrationState(registrationID: id, fd: fd, interest: interest)
                records.append(.registered(Registered(seq: next(), timeNs: seq * 1000, poller: poller, registrationID: id, fd: fd,
                                                      interest: interest, data: dispatcher.epollData(registrationID: id, fd: fd),
                                                      handlerLabel: label)))
                return id
            }
            let (control, listener, udp) = fds
            open(control, by: 0); let c = register(control, .readable, "control-api")
            open(listener, by: 0); let l = register(listener, .readable, "rtp-tcp-listener")
            open(udp, by: 0); let u = register(udp, .writable, "rtp-udp")
            let events = [HarvestedEvent(fd: control, mask: .readable, data: dispatcher.epollData(registrationID: c, fd: control)),
                          HarvestedEvent(fd: listener, mask: .readable, data: dispatcher.epollData(registrationID: l, fd: listener)),
                          HarvestedEvent(fd: udp, mask: .writable, data: dispatcher.epollData(registrationID: u, fd: udp))]
            let batchSeq = next()
            records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: seq * 1000, poller: poller, batchNumber: 1, timeoutMs: -1,
                                                 waitedNs: 10, events: events)))
            let pending = dispatcher.harvest(events, lookup: table)
            func dispatch(_ i: Int) {
                let s = next()
                var decision = dispatcher.decide(pending[i], lookup: table)
                if lossyGuard && i == 0 { decision = .suppress(.registrationReplaced) } // a broken guard drops a live event
                switch decision {
                case .run(let id, let mask):
                    records.append(.dispatch(Dispatch(seq: s, timeNs: s * 1000, poller: poller, source: .event, batchSeq: batchSeq,
                                                      eventIndex: UInt32(i), ranRegistrationID: id, deliveredMask: mask,
                                                      suppression: nil, handlerThrew: false, durationNs: 1000 + s)))
                case .suppress(let reason):
                    records.append(.dispatch(Dispatch(seq: s, timeNs: s * 1000, poller: poller, source: .event, batchSeq: batchSeq,
                                                      eventIndex: UInt32(i), ranRegistrationID: 0, deliveredMask: [],
                                                      suppression: reason, handlerThrew: false, durationNs: 10)))
                }
            }
            dispatch(0)
            table.byFD[udp] = nil
            records.append(.unregistered(Unregistered(seq: next(), timeNs: seq * 1000, poller: poller, registrationID: u, fd: udp)))
            records.append(.closed(Closed(seq: next(), timeNs: seq * 1000, poller: poller, fd: udp)))
            dispatch(1)
            open(udp, by: poller)
            _ = register(udp, .readable, "rtp-tcp-accept")
            dispatch(2)
        }
    }

    static func write(_ records: [TraceRecord], pollers: [PollerInfo], name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-tests-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("\(name).trace").path
        let metadata = TraceMetadata(pid: 7, program: name, host: "localhost", startWallClockNs: 1_700_000_000_000_000_000,
                                     startMonotonicNs: 0, pollers: pollers)
        let writer = try TraceWriter(path: path, metadata: metadata, options: TraceWriterOptions(overwrite: true))
        for p in pollers { writer.pollerStarted(p) }
        for r in records { writer.record(r) }
        try writer.close()
        return path
    }

    static func seedRecords(_ policy: DispatchPolicy) -> [TraceRecord] {
        var b = Builder()
        b.seedBatch(poller: 1, policy: policy, fds: (10, 11, 12))
        return b.records
    }

    /// A trace in its recording form whose writer never closed it: as a killed
    /// process leaves it (every record committed, no `closed_cleanly`).
    static func writeUnclosed(_ records: [TraceRecord], to path: String) throws {
        let metadata = TraceMetadata(pid: 7, program: "unclosed", host: "localhost", startWallClockNs: 1_700_000_000_000_000_000,
                                     startMonotonicNs: 0, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .naive)])
        let writer = try TraceWriter(path: path, metadata: metadata, options: TraceWriterOptions(overwrite: true, finalization: nil))
        for r in records { writer.record(r) }
        try writer.close()
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute(sql: "DELETE FROM meta WHERE key IN ('closed_cleanly', 'records_written')")
    }

    static func seed(_ policy: DispatchPolicy, lossyGuard: Bool = false) throws -> String {
        var b = Builder()
        b.seedBatch(poller: 1, policy: policy, fds: (10, 11, 12), lossyGuard: lossyGuard)
        return try write(b.records, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: policy)],
                         name: "seed-\(policy)\(lossyGuard ? "-lossy" : "")")
    }

    /// Three pollers (naive, snapshot, guarded), each running the seed batch on its
    /// own fd numbers, one after another in one process-wide sequence.
    static func multiPoller() throws -> String {
        var b = Builder()
        b.seedBatch(poller: 1, policy: .naive, fds: (10, 11, 12))
        b.seedBatch(poller: 2, policy: .snapshot, fds: (20, 21, 22))
        b.seedBatch(poller: 3, policy: .guarded, fds: (30, 31, 32))
        return try write(b.records, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .naive),
                                              PollerInfo(poller: 2, backend: "epoll", policy: .snapshot),
                                              PollerInfo(poller: 3, backend: "epoll", policy: .guarded)], name: "multi-poller")
    }

    /// A trace with records that contradict each other.
    static func inconsistent() throws -> String {
        var b = Builder()
        b.seedBatch(poller: 1, policy: .guarded, fds: (10, 11, 12))
        b.records.append(.closed(Closed(seq: b.next(), timeNs: 1, poller: 1, fd: 77)))
        b.records.append(.dispatch(Dispatch(seq: b.next(), timeNs: 1, poller: 1, source: .event, batchSeq: 999, eventIndex: 0,
                                            ranRegistrationID: 1, deliveredMask: .readable, suppression: nil, handlerThrew: false,
                                            durationNs: 1)))
        return try write(b.records, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .guarded)], name: "inconsistent")
    }
}
