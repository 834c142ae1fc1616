import PollTraceCore

/// Finds the seed's hazard in a trace that has no dispatch records, from the calls
/// the log shows.
///
/// A loop handles a batch in order, and handling an event means calling something
/// on its fd. So an event is *handled* once any call is made on its fd after the
/// harvest, other than `epoll_ctl DEL` and `close`. An fd closed while its event is
/// unhandled, whose number is created again before the harvesting thread's next
/// wait on that epoll fd, is a reuse-within-batch hazard; a data call on the new fd
/// in that window makes it a likely stale dispatch. Closing an fd after handling its
/// own event is how connections end, and is not a hazard.
///
/// The analyzer consumes records in sequence order with their log lines. It keeps
/// only the open batches and the interest lists, so memory follows the number of
/// live fds, not the log's length.
public final class ForeignHazardAnalyzer: ImportConsumer {
    /// The state lives in one struct: one exclusivity check per record instead of
    /// one per field touched.
    private var engine = HazardEngine()

    public init() {}

    public var findings: [ForeignFinding] { engine.findings }
    public var stats: ForeignStatistics { engine.stats }

    public func pollerStarted(_ info: PollerInfo) { engine.pollerStarted(info) }
    public func consume(_ record: TraceRecord, origin: LineOrigin) { engine.consume(record, origin: origin) }
    /// The log ended: every open batch closes.
    public func finish() { engine.finish() }
}

struct HazardEngine {
    private(set) var findings: [ForeignFinding] = []
    private(set) var stats = ForeignStatistics()

    private final class PendingEvent {
        enum State { case unhandled, handled, closed, reused, expired }
        let fd: Int32
        let table: UInt32
        let mask: IOEvents
        let data: UInt64
        var state = State.unhandled
        var closeLine: UInt32?
        var reuseLine: UInt32?
        var accessLine: UInt32?
        var accessCall: String?
        var accessResult: Int64 = 0
        var accessErrno: Int32 = 0
        init(fd: Int32, table: UInt32, mask: IOEvents, data: UInt64) {
            self.fd = fd; self.table = table; self.mask = mask; self.data = data
        }
    }

    private struct FDKey: Hashable { var table: UInt32; var fd: Int32 }
    private struct BatchKey: Hashable { var tid: Int32; var poller: PollerID }
    private struct OpenBatch { var waitLine: UInt32; var tid: Int32; var epollFD: Int32; var events: [PendingEvent] }

    private var pollerInfo: [PollerID: PollerInfo] = [:]
    private var pollerTable: [PollerID: UInt32] = [:]
    /// Pollers whose epoll fd was created in the log (their history is complete).
    private var pollersCreatedInLog: Set<PollerID> = []
    private var interest: [PollerID: InterestList] = [:]
    private var watched = TableFDMap<[PendingEvent]>()
    private var openBatches: [BatchKey: OpenBatch] = [:]
    /// The last epoll fd opened per table, to tell which pollers the log created.
    private var lastEpollOpen: [FDKey: Bool] = [:]

    mutating func pollerStarted(_ info: PollerInfo) {
        pollerInfo[info.poller] = info
        stats.pollers += 1
    }

    mutating func consume(_ record: TraceRecord, origin: LineOrigin) {
        let table = origin.fdTable
        switch record {
        case .fdOpened(let r):
            if r.origin == .epoll { lastEpollOpen[FDKey(table: table, fd: r.fd)] = true }
            forEachWatched(table, r.fd) { event in
                if event.state == .closed {
                    event.state = .reused
                    event.reuseLine = origin.line
                    return true
                }
                return false
            }
        case .closed(let r):
            for (poller, t) in pollerTable where t == table { interest[poller]?.fdClosed(r.fd, atLine: origin.line) }
            forEachWatched(table, r.fd) { event in
                switch event.state {
                case .unhandled:
                    event.state = .closed
                    event.closeLine = origin.line
                    return true
                case .reused:
                    // The new fd closed before any access: a later number's calls
                    // are not this event's business.
                    event.state = .expired
                    return true
                case .handled, .closed, .expired:
                    return false
                }
            }
        case .registered(let r):
            notePoller(r.poller, table: table)
            interest[r.poller, default: InterestList()].add(.init(
                id: r.registrationID, fd: r.fd, data: r.data, interest: r.interest, fdClosedAtLine: nil,
                registeredAtLine: origin.line))
            handled(table, r.fd)
        case .modified(let r):
            interest[r.poller]?.modify(r.registrationID, interest: r.interest, data: nil)
            handled(table, r.fd)
        case .unregistered(let r):
            interest[r.poller]?.remove(r.registrationID, atLine: origin.line)
        case .callFailed(let r):
            if r.call != .epollDelete && r.call != .close { handled(table, r.fd) }
        case .syscall(let r):
            // Cheap first-byte checks before comparing names: this runs for every call.
            let first = r.name.utf8.first
            if first == UInt8(ascii: "+") && r.name == threadRenamedCallName {
                for key in openBatches.keys where key.tid == Int32(truncatingIfNeeded: r.result) {
                    var batch = openBatches.removeValue(forKey: key)!
                    batch.tid = r.tid
                    openBatches[BatchKey(tid: r.tid, poller: key.poller)] = batch
                }
            } else if first == UInt8(ascii: "+") && r.name == threadExitCallName {
                for key in openBatches.keys where key.tid == origin.tid { closeBatch(key, nextWaitLine: origin.line) }
            } else if first == UInt8(ascii: "e") && SyscallCatalog.waitNames.contains(r.name) {
                closeBatch(BatchKey(tid: origin.tid, poller: r.poller), nextWaitLine: origin.line)
            } else {
                accessed(table, r, line: origin.line)
            }
        case .batch(let r):
            notePoller(r.poller, table: table)
            harvested(r, origin: origin)
        case .dispatch, .gap:
            break
        }
    }

    mutating func finish() {
        for key in openBatches.keys.sorted(by: { ($0.tid, $0.poller) < ($1.tid, $1.poller) }) {
            closeBatch(key, nextWaitLine: .max)
        }
        findings.sort()
    }

    // MARK: -

    private mutating func notePoller(_ poller: PollerID, table: UInt32) {
        guard pollerTable[poller] == nil else { return }
        pollerTable[poller] = table
        let epfd = pollerInfo[poller]?.epollFD ?? -1
        if lastEpollOpen.removeValue(forKey: FDKey(table: table, fd: epfd)) != nil { pollersCreatedInLog.insert(poller) }
    }

    private mutating func harvested(_ batch: BatchHarvested, origin: LineOrigin) {
        let key = BatchKey(tid: origin.tid, poller: batch.poller)
        closeBatch(key, nextWaitLine: origin.line)
        stats.batches += 1
        stats.events += batch.events.count
        let epfd = pollerInfo[batch.poller]?.epollFD ?? -1
        let list = interest[batch.poller] ?? InterestList()
        var open = OpenBatch(waitLine: origin.line, tid: origin.tid, epollFD: epfd, events: [])
        for event in batch.events {
            // Built only for an event that is a finding: rendering the mask is a
            // string per event, and almost every event is not one.
            func finding(_ kind: ForeignFinding.Kind, fd: Int32) -> ForeignFinding {
                ForeignFinding(kind: kind, tid: origin.tid, fdTable: origin.fdTable, epollFD: epfd,
                               fd: fd, mask: event.mask.description, data: event.data, waitLine: origin.line)
            }
            var fd = event.fd
            switch list.resolve(event.data) {
            case .live(let registration):
                fd = registration.fd
            case .orphan(let registration):
                var orphan = finding(.orphanEvent, fd: registration.fd)
                orphan.closeLine = registration.fdClosedAtLine
                orphan.registeredLine = registration.registeredAtLine
                findings.append(orphan)
                continue
            case .unregistered:
                // Another thread may have removed it between the kernel's harvest and
                // strace printing the result: not evidence of a bug.
                stats.eventsAfterUnregister += 1
                continue
            case .never:
                if pollersCreatedInLog.contains(batch.poller) {
                    findings.append(finding(.ghostEvent, fd: -1))
                    continue
                }
                stats.eventsWithUnknownRegistration += 1
                guard fd >= 0 else { continue }
            }
            let pending = PendingEvent(fd: fd, table: origin.fdTable, mask: event.mask, data: event.data)
            watched.modify(origin.fdTable, fd, inserting: []) { $0.append(pending) }
            open.events.append(pending)
        }
        if !open.events.isEmpty { openBatches[key] = open }
    }

    /// Any call but DEL and close on an fd handles its unhandled events.
    private mutating func handled(_ table: UInt32, _ fd: Int32) {
        forEachWatched(table, fd) { event in
            guard event.state == .unhandled else { return false }
            event.state = .handled
            return true
        }
    }

    private mutating func accessed(_ table: UInt32, _ call: SyscallRecord, line: UInt32) {
        forEachWatched(table, call.fd) { event in
            switch event.state {
            case .unhandled:
                event.state = .handled
                return true
            case .reused:
                if call.isDataCall, event.accessLine == nil {
                    event.accessLine = line
                    event.accessCall = call.name
                    event.accessResult = call.result
                    event.accessErrno = call.errno
                    return true
                }
                return false
            case .handled, .closed, .expired:
                return false
            }
        }
    }

    /// Runs `change` on the events watched at (table, fd); those for which it returns
    /// true and that can change no more stop being watched.
    private mutating func forEachWatched(_ table: UInt32, _ fd: Int32, _ change: (PendingEvent) -> Bool) {
        // Watch on while the event can still become (or grow into) a finding.
        watched.modifyOrRemove(table, fd) { events in
            var anyDone = false
            for event in events {
                _ = change(event)
                anyDone = anyDone || Self.isDone(event)
            }
            if anyDone { events.removeAll { Self.isDone($0) } }
            return events.isEmpty
        }
    }

    private static func isDone(_ event: PendingEvent) -> Bool {
        event.state == .handled || event.state == .expired || (event.state == .reused && event.accessLine != nil)
    }

    /// The thread waited again (or exited) at `nextWaitLine`: its batch is over.
    /// Only what happened on lines before that wait counts, because a split wait
    /// reaches the analyzer at its result, after lines other threads printed while
    /// it was blocked.
    private mutating func closeBatch(_ key: BatchKey, nextWaitLine: UInt32) {
        guard let batch = openBatches.removeValue(forKey: key) else { return }
        for event in batch.events {
            watched.modifyOrRemove(event.table, event.fd) { events in
                events.removeAll { $0 === event }
                return events.isEmpty
            }
            guard let reuse = event.reuseLine, reuse < nextWaitLine, let close = event.closeLine else {
                if event.state == .handled { stats.eventsHandled += 1 }
                continue
            }
            var finding = ForeignFinding(kind: .reuseWithinBatch, tid: batch.tid, fdTable: event.table,
                                         epollFD: batch.epollFD, fd: event.fd, mask: event.mask.description,
                                         data: event.data, waitLine: batch.waitLine, closeLine: close,
                                         reuseLine: reuse)
            if let access = event.accessLine, access < nextWaitLine {
                finding.kind = .likelyStaleDispatch
                finding.accessLine = access
                finding.accessCall = event.accessCall
                finding.accessResult = event.accessResult
                finding.accessErrno = event.accessErrno
            }
            findings.append(finding)
        }
    }
}

/// Counts that put findings in proportion.
public struct ForeignStatistics: Hashable, Sendable {
    public var pollers = 0
    public var batches = 0
    public var events = 0
    /// Events whose fd saw a call before the next wait.
    public var eventsHandled = 0
    /// Events for a registration the log showed ending before the result was printed.
    public var eventsAfterUnregister = 0
    /// Events on an epoll fd created before the log began, whose data no ADD in the
    /// log explains (attach mid-run): mapped by taking the data as the fd if open.
    public var eventsWithUnknownRegistration = 0
    public init() {}
}
