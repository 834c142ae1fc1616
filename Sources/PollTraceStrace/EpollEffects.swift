import PollTraceCore

/// epoll_ctl and epoll_wait: the interest lists, and batches with each event's fd
/// found through the ADD/MOD history of its `epoll_data` word.
extension ImportEngine {
    /// The poller of `epfd` in `table`; one the log never showed created (attached
    /// mid-run) is started on first use.
    mutating func poller(for epfd: Int32, table: FDTableRef, tid: Int32) -> Int {
        let key = PollerKey(table: table.id, epollFD: epfd)
        if let last = lastPollerLookup, last.key == key { return last.slot }
        if let slot = pollerSlots[key] {
            lastPollerLookup = (key, slot)
            return slot
        }
        return addPoller(PollerState(id: pollerCount + 1, epollFD: epfd, table: table.id, createdInLog: false), tid: tid)
    }

    mutating func addPoller(_ state: PollerState, tid: Int32) -> Int {
        pollerCount = state.id
        pollerStates.append(state)
        pollerSlots[PollerKey(table: state.table, epollFD: state.epollFD)] = pollerStates.count - 1
        lastPollerLookup = nil
        startPoller(state, tid: tid)
        return pollerStates.count - 1
    }

    mutating func epollControl(_ line: LineBytes, args: [Range<Int>], result: CallResult, tid: Int32, number: UInt32,
                      table: FDTableRef) {
        guard args.count >= 3, let (epfd, _) = ArgumentScanner.fdArgument(line, args[0]),
              let (fd, annotation) = ArgumentScanner.fdArgument(line, args[2]) else {
            return diagnostics.note(.unreadableArguments, line: number)
        }
        let op = args[1]
        let call: FDCall
        if line.equals("EPOLL_CTL_ADD", in: op) || line.equals("1", in: op) { call = .epollAdd }
        else if line.equals("EPOLL_CTL_DEL", in: op) || line.equals("2", in: op) { call = .epollDelete }
        else if line.equals("EPOLL_CTL_MOD", in: op) || line.equals("3", in: op) { call = .epollModify }
        else { return diagnostics.note(.unreadableArguments, line: number) }
        let key = poller(for: epfd, table: table, tid: tid)
        let pollerID = pollerStates[key].id
        if result.errno != 0 || result.value == nil {
            let failed = CallFailed(seq: sequence.next(), timeNs: currentTimeNs, poller: pollerID, call: call, fd: fd,
                                    errno: result.errno)
            return emit(.callFailed(failed), tid: tid, line: number, table: table)
        }
        var event: (mask: IOEvents, data: UInt64)?
        if call != .epollDelete {
            guard args.count >= 4, let parsed = EpollEventFormat.parseEvent(line, args[3]) else {
                return diagnostics.note(.unreadableArguments, line: number)
            }
            event = parsed
        }
        func register() {
            if fdTables.file(fd, in: table) == nil { _ = fdTables.open(fd, in: table) }  // opened before the log: adopt it
            nextRegistrationID &+= 1
            if nextRegistrationID == 0 { nextRegistrationID = 1 }  // 0 means "none"
            let id = nextRegistrationID
            let label = annotation.map { line.string($0) } ?? ""
            registrationFile[id] = fdTables.file(fd, in: table)
            let record = Registered(seq: sequence.next(), timeNs: currentTimeNs, poller: pollerID, registrationID: id,
                                    fd: fd, interest: event!.mask, data: event!.data, handlerLabel: label)
            emit(.registered(record), tid: tid, line: number, table: table)
        }
        func unregister(_ id: RegistrationID) {
            registrationFile[id] = nil
            let record = Unregistered(seq: sequence.next(), timeNs: currentTimeNs, poller: pollerID,
                                      registrationID: id, fd: fd)
            emit(.unregistered(record), tid: tid, line: number, table: table)
        }

        // `emit` applies each record to `interest`, so it holds every earlier change.
        let existing = interest.current(forFD: fd, in: pollerID)
        switch call {
        case .epollAdd:
            register()
        case .epollModify:
            guard let existing else {
                // A MOD of an fd added before the log began counts as its registration.
                return register()
            }
            if existing.data != event!.data {
                // The record model's `modified` has no data field, so a MOD that
                // changes epoll_data is imported as one registration ending and
                // another starting: readers can then map the new word back.
                unregister(existing.id)
                return register()
            }
            let record = Modified(seq: sequence.next(), timeNs: currentTimeNs, poller: pollerID,
                                  registrationID: existing.id, fd: fd, interest: event!.mask)
            emit(.modified(record), tid: tid, line: number, table: table)
        case .epollDelete:
            if let existing { unregister(existing.id) }
        default:
            break
        }
    }

    mutating func epollWait(_ line: LineBytes, name: String, args: [Range<Int>], result: CallResult, tid: Int32,
                   number: UInt32, table: FDTableRef) {
        guard args.count >= 4, let (epfd, _) = ArgumentScanner.fdArgument(line, args[0]) else {
            return diagnostics.note(.unreadableArguments, line: number)
        }
        let key = poller(for: epfd, table: table, tid: tid)
        let state = pollerStates[key]
        lastPoller.set(state.id, for: tid)
        guard result.errno == 0, let count = result.value, count >= 0 else {
            // A failed wait (EINTR) still ends the batch before it: record it as a call.
            let record = SyscallRecord(seq: sequence.next(), timeNs: currentTimeNs, poller: state.id, tid: tid,
                                       fd: epfd, name: name, result: result.value ?? -1, errno: result.errno,
                                       isDataCall: false, sourceLine: number)
            return emit(.syscall(record), tid: tid, line: number, table: table)
        }
        var events: [HarvestedEvent] = []
        if count > 0 {
            let parsed = EpollEventFormat.parseEventArray(line, args[1], into: &eventScratch)
            if !parsed.ok { diagnostics.note(.unreadableArguments, line: number) }
            if parsed.truncated { diagnostics.note(.abbreviatedEvents, line: number) }
            events.reserveCapacity(eventScratch.count)
            for event in eventScratch {
                events.append(HarvestedEvent(fd: fdForEvent(event.data, poller: state, table: table),
                                             mask: event.mask, data: event.data))
            }
        }
        pollerStates[key].batches += 1
        let record = BatchHarvested(seq: sequence.next(), timeNs: currentTimeNs, poller: state.id,
                                    batchNumber: pollerStates[key].batches, timeoutMs: timeout(line, name: name, args: args),
                                    waitedNs: result.durationNs ?? 0, events: events)
        emit(.batch(record), tid: tid, line: number, table: table)
    }

    /// The fd an event is for, through the ADD/MOD history; -1 when the history
    /// does not say. For a poller created before the log began, a data word that is
    /// an open fd number is taken as that fd (what fd-storing loops do).
    mutating func fdForEvent(_ data: UInt64, poller: PollerState, table: FDTableRef) -> Int32 {
        switch interest.resolve(data, in: poller.id) {
        case .live(let registration), .orphan(let registration): return registration.fd
        case .unregistered(let fd, _): return fd
        case .never:
            // Attached mid-run: fds opened before the log are unknown to the table,
            // so a small data word is taken as the fd (what fd-storing loops such as
            // redis do); a pointer-sized word is left unmapped.
            guard !poller.createdInLog, data < 1 << 24 else { return -1 }
            return Int32(data)
        }
    }

    /// epoll_wait/epoll_pwait take milliseconds; epoll_pwait2 a timespec or NULL.
    private mutating func timeout(_ line: LineBytes, name: String, args: [Range<Int>]) -> Int32 {
        let arg = args[3]
        if let (value, _) = line.parseInteger(in: arg) { return Int32(clamping: value) }
        guard arg.count >= 2, line[arg.lowerBound] == ASCII.openBrace else { return -1 }
        var parts: [Range<Int>] = []
        ArgumentScanner.split(line, (arg.lowerBound + 1)..<(arg.upperBound - 1), into: &parts)
        var ms: Int64 = 0
        for part in parts {
            if line.matches("tv_sec=", at: part.lowerBound, end: part.upperBound),
               let (s, _) = line.parseInteger(in: (part.lowerBound + 7)..<part.upperBound) { ms = ms &+ s &* 1000 }
            if line.matches("tv_nsec=", at: part.lowerBound, end: part.upperBound),
               let (ns, _) = line.parseInteger(in: (part.lowerBound + 8)..<part.upperBound) { ms = ms &+ ns / 1_000_000 }
        }
        return Int32(clamping: ms)
    }
}
