import PollTraceCore

/// The state and the per-record work of `ForeignHazardAnalyzer`.
struct HazardEngine {
    private(set) var findings: [ForeignFinding] = []
    private(set) var stats = ForeignStatistics()
    /// Watched-event visits (tests check that the work stays linear in the events).
    private(set) var eventVisits = 0

    private struct FDKey: Hashable { var table: UInt32; var fd: Int32 }
    private struct WordKey: Hashable { var table: UInt32; var data: UInt64 }
    private struct BatchKey: Hashable { var tid: Int32; var poller: PollerID }
    /// A harvested batch whose events are watched until its thread waits again.
    private struct WatchedBatch { var waitLine: UInt32; var tid: Int32; var epollFD: Int32; var events: [WatchedEvent] }

    /// Each poller's epoll fd, by poller id (small numbers: the array side of the map).
    private var pollerEpollFD = SmallKeyMap<Int32>()
    /// Pollers seen in a registration or a batch.
    private var notedPollers = SmallKeyMap<Bool>()
    /// Pollers whose epoll fd was created in the log (their history is complete).
    private var pollersCreatedInLog = SmallKeyMap<Bool>()
    /// Each poller's registrations by data word: the importer's, or (for a stored
    /// trace) kept here from the records, when `keepsInterest` is set.
    private var interest = EpollInterestLists()
    private var keepsInterest = true
    /// Events by the fd they are watched at: their own fd until it closes, then
    /// (number-keyed) the same number, or (word-keyed) the fd that took the word.
    private var watched = TableFDMap<[WatchedEvent]>()
    /// Word-keyed events closed unhandled, by their data word: a registration that
    /// carries the word again is where the loop would send them.
    private var closedWords: [WordKey: [WatchedEvent]] = [:]
    private var watchedBatches: [BatchKey: WatchedBatch] = [:]
    private var batchSerial: UInt64 = 0
    /// The last epoll fd opened per table, to tell which pollers the log created.
    private var lastEpollOpen: [FDKey: Bool] = [:]

    /// Reads `lists`, which the importer keeps, instead of keeping its own.
    mutating func readInterestLists(_ lists: EpollInterestLists) {
        interest = lists
        keepsInterest = false
    }

    mutating func pollerStarted(_ info: PollerInfo) {
        pollerEpollFD[UInt64(info.poller)] = info.epollFD
        stats.pollers += 1
    }

    mutating func consume(_ record: TraceRecord, origin: LineOrigin) {
        let table = origin.fdTable
        switch record {
        case .fdOpened(let r):
            if r.origin == .epoll { lastEpollOpen[FDKey(table: table, fd: r.fd)] = true }
            forEachWatched(table, r.fd) { event in
                // Only number-keyed events are watched at a number while it is closed.
                guard event.state == .closed, !event.followsWord else { return }
                if event.reuseLine == nil { event.reuseLine = origin.line; event.reuseFD = r.fd }
                // Made by another thread: a loop that uses the number as it is (no
                // handler table) reaches it. One its own thread made is that
                // handler's business until it is registered (below).
                event.target = origin.tid != event.tid ? r.fd : nil
                event.targetLabel = ""
            }
        case .closed(let r):
            closed(table, r.fd, line: origin.line)
        case .registered(let r):
            notePoller(r.poller, table: table)
            // The closure reads these, not `r`: capturing the record would copy it.
            let fd = r.fd, poller = r.poller, label = r.handlerLabel
            forEachWatched(table, fd) { event in
                if event.state == .unhandled, event.fd == fd { event.state = .handled }
                // The new fd now has a handler in this epoll fd's table.
                if event.state == .closed, !event.followsWord, event.poller == poller {
                    event.target = fd
                    event.targetLabel = label
                }
            }
            if !closedWords.isEmpty { wordTaken(table, r.data, by: r.fd, label: r.handlerLabel, line: origin.line) }
        case .modified(let r):
            handled(table, r.fd)
        case .unregistered(let r):
            // The lists are still as they were before this record.
            let word = interest.registration(r.registrationID, in: r.poller)?.data
            if let word { registrationEnded(table, r.fd, word: word, poller: r.poller, line: origin.line) }
            forEachWatched(table, r.fd) { event in
                if event.state == .closed, !event.followsWord, event.poller == r.poller, event.target == r.fd {
                    event.target = nil
                }
            }
        case .callFailed(let r):
            if r.call != .epollDelete && r.call != .close { handled(table, r.fd) }
        case .syscall(let r):
            // Cheap first-byte checks before comparing names: this runs for every call.
            let first = r.name.utf8.first
            if first == UInt8(ascii: "+") && r.name == threadRenamedCallName {
                renameThread(Int32(truncatingIfNeeded: r.result), to: r.tid)
            } else if first == UInt8(ascii: "+") && r.name == threadExitCallName {
                for key in watchedBatches.keys where key.tid == origin.tid { closeBatch(key, nextWaitLine: origin.line) }
            } else if first == UInt8(ascii: "e") && SyscallCatalog.waitNames.contains(r.name) {
                closeBatch(BatchKey(tid: origin.tid, poller: r.poller), nextWaitLine: origin.line)
            } else {
                accessed(table, r, tid: origin.tid, line: origin.line)
            }
        case .batch(let r):
            notePoller(r.poller, table: table)
            harvested(r, origin: origin)
        case .dispatch, .gap:
            break
        }
        if keepsInterest { interest.apply(record, origin: origin) }
    }

    mutating func finish() {
        for key in watchedBatches.keys.sorted(by: { ($0.tid, $0.poller) < ($1.tid, $1.poller) }) {
            closeBatch(key, nextWaitLine: .max)
        }
        findings.sort()
    }

    // MARK: - Batches

    private mutating func notePoller(_ poller: PollerID, table: UInt32) {
        guard notedPollers[UInt64(poller)] == nil else { return }
        notedPollers[UInt64(poller)] = true
        let epfd = pollerEpollFD[UInt64(poller)] ?? -1
        if lastEpollOpen.removeValue(forKey: FDKey(table: table, fd: epfd)) != nil { pollersCreatedInLog[UInt64(poller)] = true }
    }

    private mutating func harvested(_ batch: BatchHarvested, origin: LineOrigin) {
        let key = BatchKey(tid: origin.tid, poller: batch.poller)
        closeBatch(key, nextWaitLine: origin.line)
        stats.batches += 1
        stats.events += batch.events.count
        batchSerial &+= 1
        let epfd = pollerEpollFD[UInt64(batch.poller)] ?? -1
        var open = WatchedBatch(waitLine: origin.line, tid: origin.tid, epollFD: epfd, events: [])
        open.events.reserveCapacity(batch.events.count)
        for event in batch.events {
            // Built only for an event that is a finding: rendering the mask is a
            // string per event, and almost every event is not one.
            func finding(_ kind: ForeignFinding.Kind, fd: Int32) -> ForeignFinding {
                ForeignFinding(kind: kind, tid: origin.tid, fdTable: origin.fdTable, epollFD: epfd,
                               fd: fd, mask: event.mask.description, data: event.data, waitLine: origin.line)
            }
            var fd = event.fd
            var label = ""
            switch interest.resolve(event.data, in: batch.poller) {
            case .live(let registration):
                fd = registration.fd
                label = registration.label
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
                if pollersCreatedInLog[UInt64(batch.poller)] != nil {
                    findings.append(finding(.ghostEvent, fd: -1))
                    continue
                }
                stats.eventsWithUnknownRegistration += 1
                guard fd >= 0 else { continue }
            }
            let serial = batchSerial
            var duplicate = false
            watched.modify(origin.fdTable, fd, inserting: []) { events in
                // Events are appended in batch order, so a second event of this fd in
                // this batch finds the first one last: fold it in, keeping the work
                // per fd bounded by the open batches, not by the events.
                if let last = events.last, last.batch == serial { duplicate = true; return }
                let watchedEvent = WatchedEvent(fd: fd, table: origin.fdTable, mask: event.mask, data: event.data,
                                           tid: origin.tid, poller: batch.poller, batch: serial)
                watchedEvent.label = label
                events.append(watchedEvent)
                open.events.append(watchedEvent)
            }
            if duplicate { stats.duplicateEvents += 1 }
        }
        if !open.events.isEmpty { watchedBatches[key] = open }
    }

    /// The thread waited again (or exited) at `nextWaitLine`: its batch is over.
    /// Only what happened on lines before that wait counts, because a split wait
    /// reaches the analyzer at its result, after lines other threads printed while
    /// it was blocked.
    private mutating func closeBatch(_ key: BatchKey, nextWaitLine: UInt32) {
        guard let batch = watchedBatches.removeValue(forKey: key) else { return }
        for event in batch.events {
            defer { event.state = .finished }
            if event.state == .handled { stats.eventsHandled += 1 }
            guard let reuse = event.reuseLine, reuse < nextWaitLine, let close = event.closeLine else { continue }
            var finding = ForeignFinding(kind: .reuseWithinBatch, tid: batch.tid, fdTable: event.table,
                                         epollFD: batch.epollFD, fd: event.fd, mask: event.mask.description,
                                         data: event.data, waitLine: batch.waitLine, closeLine: close,
                                         reuseLine: reuse)
            finding.reuseFD = event.reuseFD
            finding.followsWord = event.followsWord
            finding.handler = event.label.isEmpty ? nil : event.label
            if let access = event.accessLine, access < nextWaitLine {
                finding.kind = .likelyStaleDispatch
                finding.accessLine = access
                finding.accessCall = event.accessCall
                finding.accessResult = event.accessResult
                finding.accessErrno = event.accessErrno
                finding.accessHandler = event.accessLabel.isEmpty ? nil : event.accessLabel
            }
            findings.append(finding)
        }
        // Drop the finished events from where they are watched: one pass per place,
        // however many of this batch's events it held.
        for event in batch.events {
            sweep(event.table, event.fd)
            if let target = event.target, target != event.fd { sweep(event.table, target) }
            if event.followsWord, event.closeLine != nil {
                let word = WordKey(table: event.table, data: event.data)
                if let index = closedWords.index(forKey: word) {
                    eventVisits += closedWords.values[index].count
                    closedWords.values[index].removeAll { $0.state == .finished }
                    if closedWords.values[index].isEmpty { closedWords.remove(at: index) }
                }
            }
        }
    }

    private mutating func renameThread(_ old: Int32, to new: Int32) {
        for key in watchedBatches.keys where key.tid == old {
            var batch = watchedBatches.removeValue(forKey: key)!
            batch.tid = new
            for event in batch.events { event.tid = new }
            watchedBatches[BatchKey(tid: new, poller: key.poller)] = batch
        }
    }

    // MARK: - What calls do to watched events

    /// Any call but DEL and close on an fd handles its unhandled events.
    private mutating func handled(_ table: UInt32, _ fd: Int32) {
        forEachWatched(table, fd) { event in
            if event.state == .unhandled, event.fd == fd { event.state = .handled }
        }
    }

    private mutating func accessed(_ table: UInt32, _ call: SyscallRecord, tid: Int32, line: UInt32) {
        // The closure reads these scalars, not `call`: capturing the record (or its
        // name) would copy the record on every call. The rare access gets its name after.
        let fd = call.fd, isDataCall = call.isDataCall
        guard watched.contains(table, fd) else { return }
        let result = call.result, errno = call.errno
        var accessedEvents: [WatchedEvent] = []
        forEachWatched(table, fd) { event in
            switch event.state {
            case .unhandled:
                if event.fd == fd { event.state = .handled }
            case .closed:
                // The dispatch runs on the harvesting thread; another thread's call
                // on the new fd is that fd's own business.
                if isDataCall, tid == event.tid, event.target == fd, event.accessLine == nil {
                    event.noteAccess(result: result, errno: errno, line: line)
                    accessedEvents.append(event)
                }
            case .handled, .finished:
                break
            }
        }
        for event in accessedEvents { event.accessCall = call.name }
    }

    /// A word-keyed event's registration ended (DEL, or its fd closed): the loop
    /// frees the object its word points at, which a new registration can take,
    /// whether or not the fd was closed.
    private mutating func registrationEnded(_ table: UInt32, _ fd: Int32, word: UInt64, poller: PollerID, line: UInt32) {
        closed(table, fd, line: line) { $0.followsWord && $0.data == word && $0.poller == poller }
    }

    private mutating func closed(_ table: UInt32, _ fd: Int32, line: UInt32,
                                 only affected: (WatchedEvent) -> Bool = { _ in true }) {
        var movedToWords: [WatchedEvent] = []
        forEachWatched(table, fd) { event in
            guard affected(event) else { return }
            switch event.state {
            case .unhandled where event.fd == fd:
                event.state = .closed
                event.closeLine = line
                if event.followsWord { movedToWords.append(event) }
            case .closed:
                // The number closes again (number-keyed), or the fd that took the
                // word closes (word-keyed): nothing holds the key until it is taken again.
                if event.target == fd { event.target = nil }
            default:
                break
            }
        }
        guard !movedToWords.isEmpty else { return }
        // A word-keyed event no longer cares about its number: it waits for its word.
        watched.modifyOrRemove(table, fd) { events in
            events.removeAll { $0.followsWord && $0.state == .closed && $0.target == nil }
            return events.isEmpty
        }
        for event in movedToWords { closedWords[WordKey(table: table, data: event.data), default: []].append(event) }
    }

    /// A registration carries `data` for `fd`: word-keyed events closed with that
    /// word would now reach `fd`'s handler.
    private mutating func wordTaken(_ table: UInt32, _ data: UInt64, by fd: Int32, label: String, line: UInt32) {
        guard let events = closedWords[WordKey(table: table, data: data)] else { return }
        for event in events where event.state == .closed && event.accessLine == nil {
            eventVisits += 1
            if let old = event.target, old != fd { unwatch(event, at: old) }
            event.target = fd
            event.targetLabel = label
            if event.reuseLine == nil { event.reuseLine = line; event.reuseFD = fd }
            watched.modify(table, fd, inserting: []) { if !$0.contains(where: { $0 === event }) { $0.append(event) } }
        }
    }

    private mutating func unwatch(_ event: WatchedEvent, at fd: Int32) {
        watched.modifyOrRemove(event.table, fd) { events in
            eventVisits += events.count
            events.removeAll { $0 === event }
            return events.isEmpty
        }
    }

    /// Removes the events that are done from the list at (table, fd).
    private mutating func sweep(_ table: UInt32, _ fd: Int32) {
        watched.modifyOrRemove(table, fd) { events in
            eventVisits += events.count
            events.removeAll { $0.isDone }
            return events.isEmpty
        }
    }

    /// Runs `change` on the events watched at (table, fd); those that are done
    /// afterwards stop being watched.
    private mutating func forEachWatched(_ table: UInt32, _ fd: Int32, _ change: (WatchedEvent) -> Void) {
        guard watched.contains(table, fd) else { return }
        var visits = 0
        watched.modifyOrRemove(table, fd) { events in
            var anyDone = false
            for event in events {
                change(event)
                anyDone = anyDone || event.isDone
            }
            visits = events.count
            if anyDone { events.removeAll { $0.isDone } }
            return events.isEmpty
        }
        eventVisits += visits
    }
}
