import PollTraceCore

/// What each followed syscall does to the fd tables and interest lists, and the
/// records it becomes.
extension ImportEngine {
    mutating func handleCall(_ line: LineBytes, tid: Int32, number: UInt32, name nameRange: Range<Int>,
                    args argsRange: Range<Int>, rest: Range<Int>) {
        let entry = syscallNames.lookup(line, nameRange)
        guard let role = entry.role else {
            diagnostics.note(.unknownSyscall, line: number)
            return
        }
        if role == .ignored { return }
        let name = entry.name
        guard let result = CallResult.parse(line, rest) else {
            diagnostics.note(.truncatedLine, line: number)
            return
        }
        // Most calls need only their first argument (the fd); split the rest only
        // for the calls that read more.
        switch role {
        case .actsOn(let positions, _) where positions == .firstOnly:
            setOnlyArgument(argsRange)
        case .close, .accept, .dup, .signalfd, .createsReturned:
            setOnlyArgument(argsRange)
        default:
            ArgumentScanner.arguments(line, argsRange, commas: commaScratch, into: &argumentScratch)
        }
        let args = argumentScratch
        var table = tableOf(tid)
        let value = result.value ?? -1
        let ok = result.errno == 0 && result.value != nil && value >= 0

        func fdArg(_ index: Int) -> (fd: Int32, annotation: Range<Int>?)? {
            index < args.count ? ArgumentScanner.fdArgument(line, args[index]) : nil
        }
        func actOn(_ fd: Int32, isData: Bool) {
            guard fd >= 0 else { return }
            let record = SyscallRecord(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(tid),
                                       tid: tid, fd: fd, name: name, result: value, errno: result.errno,
                                       isDataCall: isData, sourceLine: number)
            emit(.syscall(record), tid: tid, line: number, table: table)
        }
        func unreadable() { diagnostics.note(.unreadableArguments, line: number) }

        switch role {
        case .ignored:
            return
        case .epollCreate:
            guard ok else { return }
            openFD(Int32(truncatingIfNeeded: value), origin: .epoll, tid: tid, line: number, table: table)
            _ = addPoller(PollerState(id: pollerCount + 1, epollFD: Int32(truncatingIfNeeded: value), table: table.id,
                                      createdInLog: true), tid: tid)
        case .epollControl:
            epollControl(line, args: args, result: result, tid: tid, number: number, table: table)
        case .epollWait:
            epollWait(line, name: name, args: args, result: result, tid: tid, number: number, table: table)
        case .close:
            guard let (fd, _) = fdArg(0) else { return unreadable() }
            if result.errno != 0 {
                let failed = CallFailed(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(tid),
                                        call: .close, fd: fd, errno: result.errno)
                emit(.callFailed(failed), tid: tid, line: number, table: table)
            } else {
                closeFD(fd, tid: tid, line: number, table: table)
            }
        case .closeRange:
            guard ok, args.count >= 2, let (first, _) = line.parseInteger(in: args[0]),
                  let (last, _) = line.parseInteger(in: args[1]) else { return }
            let flags = args.count > 2 ? args[2] : 0..<0
            if contains(line, flags, "CLOSE_RANGE_CLOEXEC") { return }
            if contains(line, flags, "CLOSE_RANGE_UNSHARE") {
                cachedTable = nil
                fdTables.unshare(tid)
                table = tableOf(tid)
            }
            let lo = UInt32(truncatingIfNeeded: first), hi = UInt32(truncatingIfNeeded: last)
            for fd in fdTables.openFDs(in: table) where fd >= 0 && UInt32(fd) >= lo && UInt32(fd) <= hi {
                closeFD(fd, tid: tid, line: number, table: table)
            }
        case .createsReturned(let origin):
            guard ok else { return }
            openFD(Int32(truncatingIfNeeded: value), origin: origin, tid: tid, line: number, table: table)
        case .createsPair(let origin, let index):
            guard ok, index < args.count else { return }
            for fd in ArgumentScanner.fdPair(line, args[index]) {
                openFD(fd, origin: origin, tid: tid, line: number, table: table)
            }
        case .accept:
            guard let (listener, _) = fdArg(0) else { return unreadable() }
            actOn(listener, isData: true)
            if ok { openFD(Int32(truncatingIfNeeded: value), origin: .accept, tid: tid, line: number, table: table) }
        case .dup:
            guard let (source, _) = fdArg(0) else { return unreadable() }
            actOn(source, isData: false)
            if ok { duplicateFD(source, to: Int32(truncatingIfNeeded: value), tid: tid, line: number, table: table) }
        case .dupTo:
            guard let (source, _) = fdArg(0), let (target, _) = fdArg(1) else { return unreadable() }
            actOn(source, isData: false)
            if ok, source != target {
                if fdTables.file(target, in: table) != nil { closeFD(target, tid: tid, line: number, table: table) }
                duplicateFD(source, to: target, tid: tid, line: number, table: table)
            }
        case .fcntl:
            guard let (fd, _) = fdArg(0) else { return unreadable() }
            actOn(fd, isData: false)
            if ok, args.count > 1, line.matches("F_DUPFD", at: args[1].lowerBound, end: args[1].upperBound) {
                duplicateFD(fd, to: Int32(truncatingIfNeeded: value), tid: tid, line: number, table: table)
            }
        case .signalfd:
            guard let (fd, _) = fdArg(0) else { return unreadable() }
            if fd < 0 {
                if ok { openFD(Int32(truncatingIfNeeded: value), origin: .signalfd, tid: tid, line: number, table: table) }
            } else {
                actOn(fd, isData: false)
            }
        case .actsOn(let positions, let isData):
            if let (fd, _) = fdArg(positions.first) { actOn(fd, isData: isData) }
            if let second = positions.second, let (fd, _) = fdArg(second) { actOn(fd, isData: isData) }
        case .clone, .fork:
            let shares = role == .clone && contains(line, argsRange, "CLONE_FILES")
            fdTables.clonesInFlight[tid] = nil
            cachedTable = nil
            if ok, value > 0 { fdTables.cloned(parent: tid, child: Int32(truncatingIfNeeded: value), sharesFiles: shares) }
        case .unshare:
            if ok, contains(line, argsRange, "CLONE_FILES") {
                cachedTable = nil
                fdTables.unshare(tid)
            }
        }
    }

    /// `argumentScratch` = [range], in place when it already holds one argument.
    @inline(__always)
    private mutating func setOnlyArgument(_ range: Range<Int>) {
        if argumentScratch.count == 1 {
            argumentScratch[0] = range
        } else {
            argumentScratch.removeAll(keepingCapacity: true)
            argumentScratch.append(range)
        }
    }

    // MARK: - fd table changes

    mutating func openFD(_ fd: Int32, origin: FDOrigin, tid: Int32, line: UInt32, table: FDTableRef) {
        if fdTables.file(fd, in: table) != nil {
            diagnostics.note(.openedWhileOpen, line: line)
            closeFD(fd, tid: tid, line: line, table: table)
        }
        _ = fdTables.open(fd, in: table)
        let record = FDOpened(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(tid), fd: fd,
                              origin: origin)
        emit(.fdOpened(record), tid: tid, line: line, table: table)
    }

    mutating func duplicateFD(_ source: Int32, to fd: Int32, tid: Int32, line: UInt32, table: FDTableRef) {
        if fdTables.file(fd, in: table) != nil {
            diagnostics.note(.openedWhileOpen, line: line)
            closeFD(fd, tid: tid, line: line, table: table)
        }
        fdTables.duplicate(source, to: fd, in: table)
        let record = FDOpened(seq: sequence.next(), timeNs: currentTimeNs, poller: lastPoller.of(tid), fd: fd,
                              origin: .dup)
        emit(.fdOpened(record), tid: tid, line: line, table: table)
    }

    /// Records the close, then what it implies: registrations on a file with no fd
    /// left end (the kernel removes them), others become orphans; an epoll fd's
    /// poller ends with its last reference.
    mutating func closeFD(_ fd: Int32, tid: Int32, line: UInt32, table: FDTableRef) {
        let poller = lastPoller.of(tid)
        let closed = Closed(seq: sequence.next(), timeNs: currentTimeNs, poller: poller, fd: fd)
        emit(.closed(closed), tid: tid, line: line, table: table)
        let released = fdTables.close(fd, in: table)
        var closedPollerSlot: Int?
        for (key, slot) in pollerSlots where key.table == table.id {
            closeScratch.append(slot)
            if key.epollFD == fd { closedPollerSlot = slot }
        }
        // The `closed` record made the number's registrations orphans in `interest`;
        // those on a file with no fd left end.
        for slot in closeScratch {
            guard let released, released.lastReference else { continue }
            let poller = pollerStates[slot].id
            for registration in interest.registrations(onFD: fd, in: poller)
            where registrationFile[registration.id] == released.file {
                registrationFile[registration.id] = nil
                let record = Unregistered(seq: sequence.next(), timeNs: currentTimeNs, poller: poller,
                                          registrationID: registration.id, fd: fd)
                emit(.unregistered(record), tid: tid, line: line, table: table)
            }
        }
        closeScratch.removeAll(keepingCapacity: true)
        // Found in the scan above: most closes are not of an epoll fd, and need no lookup.
        if closedPollerSlot != nil, released?.lastReference ?? true,
           let slot = pollerSlots.removeValue(forKey: PollerKey(table: table.id, epollFD: fd)) {
            lastPollerLookup = nil
            // The epoll instance is gone: free its interest list.
            interest.drop(pollerStates[slot].id)
        }
    }
}
