/// Replays a trace's records, in sequence order, one at a time, against a simulated
/// fd table and a simulated interest list per poller, and classifies every event
/// dispatch (see `FindingKind`).
///
/// Memory follows the live state (open fds, live registrations, one open batch per
/// poller, recently ended registrations an open batch may still name), not the
/// length of the trace. Deterministic: the same records give the same result.
public struct Replayer: Sendable {
    public let options: ReplayOptions

    // The simulated process.
    public private(set) var fdTable = FDTable()
    private var pollers = PollerStates()
    private var registrations: [RegistrationID: RegistrationRecord] = [:]
    /// The few fields every dispatch reads, kept beside the full records so that the
    /// hot path does not copy a whole record (with its strings) per lookup.
    private var hot: [RegistrationID: HotRegistration] = [:]
    private var correctCount: UInt64 = 0

    // What replay found.
    private var findingCounts: [FindingKind: UInt64] = [:]
    /// Exact counts of every kind, `correct` included.
    public var counts: [FindingKind: UInt64] {
        var all = findingCounts
        if correctCount > 0 { all[.correct] = correctCount }
        return all
    }
    public private(set) var findings: [Finding] = []
    public private(set) var inconsistencies: [Inconsistency] = []
    public private(set) var inconsistencyCount: UInt64 = 0
    public private(set) var gaps: [GapReport] = []
    public private(set) var gapCount: UInt64 = 0
    /// Records after a gap that referred to fds, registrations or batches the lost
    /// records would have created. They are applied as if those records had been
    /// there, and counted here instead of as inconsistencies.
    public private(set) var gapAffectedRecords: UInt64 = 0
    /// Events of closed batches that no dispatch ever named.
    public private(set) var undispatchedEvents: UInt64 = 0
    public private(set) var recordCount: UInt64 = 0
    public private(set) var lastSeq: SequenceNumber = 0
    /// The verdict on the last record consumed, when it was an event dispatch.
    public private(set) var lastDispatchVerdict: FindingKind?
    private var afterGap = false
    private var pendingHoles: [GapReport] = []
    private var pendingHoleCount: UInt64 = 0

    public init(options: ReplayOptions = ReplayOptions()) { self.options = options }

    /// The interest list replay holds for `poller` now.
    public func interestList(_ poller: PollerID) -> InterestList { pollers.index(poller).map { pollers[$0].interest } ?? InterestList() }

    public func registration(_ id: RegistrationID) -> RegistrationRecord? { registrations[id] }

    /// The registration event `eventIndex` of `poller`'s open batch was harvested
    /// for; nil for an orphan or when there is no such event.
    public func harvestedFor(poller: PollerID, eventIndex: Int) -> RegistrationID? {
        guard let i = pollers.index(poller), let count = pollers[i].openBatch?.harvestedFor.count, eventIndex < count
        else { return nil }
        let id = pollers[i].openBatch!.harvestedFor[eventIndex]
        return id == 0 ? nil : id
    }

    /// Registrations held in memory (live plus recently ended). For memory tests.
    public var heldRegistrations: Int { registrations.count }

    // MARK: - Consuming records

    public mutating func consume(_ record: TraceRecord) {
        lastDispatchVerdict = nil
        let seq = record.seq
        if recordCount > 0 || lastSeq > 0 {
            if seq == lastSeq {
                report(.duplicateSequence, seq, "sequence number \(seq) appears twice; the second record (\(record.kind)) was skipped")
                return
            }
            if seq < lastSeq {
                report(.sequenceOutOfOrder, seq, "record \(seq) (\(record.kind)) comes after \(lastSeq); it was skipped")
                return
            }
        }
        if seq > lastSeq + 1 { noteHole(from: lastSeq + 1, to: seq - 1, atTime: record.timeNs) }
        lastSeq = seq
        recordCount += 1

        switch record {
        case .fdOpened(let r): fdOpened(r)
        case .registered(let r): registered(r)
        case .modified(let r): modified(r)
        case .unregistered(let r): unregistered(r)
        case .closed(let r): closed(r)
        case .batch(let r): harvested(r)
        case .dispatch(let r): dispatched(r)
        case .gap(let r): gap(r)
        case .callFailed, .syscall: break
        }
    }

    /// Call once after the last record: closes open batches and settles gaps.
    public mutating func finish() {
        for i in pollers.indicesByPoller {
            if let batch = pollers[i].openBatch { undispatchedEvents += UInt64(batch.undispatched) }
            pollers[i].openBatch = nil
        }
        for hole in pendingHoles { appendGap(hole) }
        let unlisted = pendingHoleCount - UInt64(pendingHoles.count)
        gapCount += unlisted
        pendingHoles = []
        pendingHoleCount = 0
    }

    // MARK: - fds and registrations

    private mutating func fdOpened(_ r: FDOpened) {
        let by = cause(r.poller)
        if let previous = fdTable.opened(OpenFD(fd: r.fd, openedSeq: r.seq, origin: r.origin, openedBy: by)) {
            report(.openOfOpenFD, r.seq, "fd \(r.fd) opened (\(r.origin)) while still open since seq \(previous.openedSeq); its close is missing, so its registrations were ended here", gapRelated: true)
            endRegistrations(ofFD: r.fd, seq: r.seq, timeNs: r.timeNs, by: by)
        }
    }

    private mutating func registered(_ r: Registered) {
        let by = cause(r.poller)
        if let existing = registrations[r.registrationID], existing.isLive {
            report(.duplicateRegistrationID, r.seq, "registration #\(r.registrationID) registered again (fd \(r.fd)) while still live for fd \(existing.fd); the old one was ended here")
            end(r.registrationID, seq: r.seq, timeNs: r.timeNs, reason: .unregistered, by: by)
        }
        var openFD = fdTable.lookup(r.fd)
        if openFD == nil {
            report(.registerOfUnknownFD, r.seq, "fd \(r.fd) registered (#\(r.registrationID)) but never seen opened; assumed open", gapRelated: true)
            let assumed = OpenFD(fd: r.fd, openedSeq: r.seq, origin: nil, openedBy: nil)
            fdTable.opened(assumed)
            openFD = assumed
        }
        if let p = pollers.index(r.poller), let previous = pollers[p].interest.currentRegistration(forFD: r.fd) {
            report(.fdAlreadyRegistered, r.seq, "fd \(r.fd) registered (#\(r.registrationID)) on poller \(r.poller) while #\(previous.registrationID) still held it; the old one was ended here")
            end(previous.registrationID, seq: r.seq, timeNs: r.timeNs, reason: .unregistered, by: by)
        }
        let record = RegistrationRecord(
            registrationID: r.registrationID, poller: r.poller, fd: r.fd, interest: r.interest, data: r.data,
            handlerLabel: r.handlerLabel, registeredSeq: r.seq, registeredTimeNs: r.timeNs, registeredBy: by,
            fdOpenedSeq: openFD!.openedSeq, fdOrigin: openFD!.origin, fdOpenedBy: openFD!.openedBy, end: nil, fdClose: nil)
        registrations[r.registrationID] = record
        hot[r.registrationID] = HotRegistration(poller: r.poller, fd: r.fd, data: r.data, label: r.handlerLabel, live: true)
        let i = pollers.index(creating: r.poller)
        pollers[i].interest.add(record.state)
        // The previous registration of this number on this poller is now superseded:
        // a loop that kept it in its table has replaced it, so it can be forgotten
        // once no open batch can name it.
        if let previous = pollers[i].lastByFD.updateValue(r.registrationID, forKey: r.fd), previous != r.registrationID,
           hot[previous]?.live == false {
            let batchCount = pollers[i].batchCount
            pollers[i].ended.append((previous, batchCount))
        }
    }

    private mutating func modified(_ r: Modified) {
        guard let existing = registrations[r.registrationID], existing.isLive else {
            report(.unknownRegistration, r.seq, "modify of registration #\(r.registrationID) (fd \(r.fd)), which is not live", gapRelated: true)
            return
        }
        if existing.fd != r.fd {
            report(.registrationFDMismatch, r.seq, "modify names fd \(r.fd) but registration #\(r.registrationID) is for fd \(existing.fd); applied to fd \(existing.fd)")
        }
        registrations[r.registrationID]?.interest = r.interest
        if let i = pollers.index(existing.poller) { pollers[i].interest.modify(fd: existing.fd, interest: r.interest) }
    }

    private mutating func unregistered(_ r: Unregistered) {
        guard let existing = registrations[r.registrationID] else {
            report(.unknownRegistration, r.seq, "unregister of registration #\(r.registrationID) (fd \(r.fd)), never seen registered", gapRelated: true)
            return
        }
        // Already ended by the close of its fd: the poller records the end of a
        // registration whose fd it closed, which may come after the close.
        guard existing.isLive else { return }
        if existing.fd != r.fd {
            report(.registrationFDMismatch, r.seq, "unregister names fd \(r.fd) but registration #\(r.registrationID) is for fd \(existing.fd)")
        }
        end(r.registrationID, seq: r.seq, timeNs: r.timeNs, reason: .unregistered, by: cause(r.poller))
    }

    private mutating func closed(_ r: Closed) {
        let by = cause(r.poller)
        guard let closing = fdTable.closed(r.fd) else {
            report(.closeOfUnknownFD, r.seq, "close of fd \(r.fd), which was never seen open", gapRelated: true)
            endRegistrations(ofFD: r.fd, seq: r.seq, timeNs: r.timeNs, by: by)
            return
        }
        endRegistrations(ofFD: r.fd, seq: r.seq, timeNs: r.timeNs, by: by)
        // Note the close on every registration of this open fd replay still holds, so
        // a finding can say which handler closed the fd as well as who unregistered it.
        let close = RegistrationEnd(seq: r.seq, timeNs: r.timeNs, reason: .closed, by: by)
        for i in pollers.indicesByPoller {
            for entry in pollers[i].ended {
                if let record = registrations[entry.id], record.fd == r.fd, record.fdOpenedSeq == closing.openedSeq,
                   record.fdClose == nil {
                    registrations[entry.id]!.fdClose = close
                }
            }
        }
    }

    /// Ends every live registration of `fd`, on every poller: closing the fd takes it
    /// out of every interest list (the kernel keeps it only while a dup lives, and
    /// then the registration is dead to the loop anyway).
    private mutating func endRegistrations(ofFD fd: Int32, seq: SequenceNumber, timeNs: UInt64, by: DispatchRef?) {
        for i in pollers.indicesByPoller {
            if let current = pollers[i].interest.currentRegistration(forFD: fd) {
                end(current.registrationID, seq: seq, timeNs: timeNs, reason: .closed, by: by)
            }
        }
    }

    private mutating func end(_ id: RegistrationID, seq: SequenceNumber, timeNs: UInt64,
                              reason: RegistrationEndReason, by: DispatchRef?) {
        guard var record = registrations[id], record.isLive else { return }
        record.end = RegistrationEnd(seq: seq, timeNs: timeNs, reason: reason, by: by)
        registrations[id] = record
        hot[id]?.live = false
        // Mutated in place (never copied out and back), so the poller's tables are
        // not copied on every record.
        if let i = pollers.index(record.poller) {
            if pollers[i].interest.currentRegistration(forFD: record.fd)?.registrationID == id {
                pollers[i].interest.remove(fd: record.fd)
            }
            pollers[i].spinRuns.removeValue(forKey: id)
            let batchCount = pollers[i].batchCount
            pollers[i].ended.append((id, batchCount))
        }
    }

    // MARK: - Batches and dispatches

    private mutating func harvested(_ b: BatchHarvested) {
        let i = pollers.index(creating: b.poller)
        if let previous = pollers[i].openBatch?.undispatched { undispatchedEvents += UInt64(previous) }
        pollers[i].openBatch = nil
        pollers[i].activeDispatch = nil
        pollers[i].batchCount += 1
        // A registration that ended before the previous batch was harvested can no
        // longer be named by an open batch: forget it (memory follows live state).
        let keepAfter = pollers[i].batchCount - 1
        if let oldest = pollers[i].ended.first, oldest.batchCount < keepAfter {
            let ended = pollers[i].ended
            pollers[i].ended = []
            var kept: [(id: RegistrationID, batchCount: UInt64)] = []
            for entry in ended {
                if entry.batchCount < keepAfter {
                    // The fd number's last registration on this poller is kept even
                    // when ended: a loop whose table still maps the number to it (the
                    // fd closed behind its back) may run it much later. It is
                    // forgotten when the number is registered again.
                    if let record = hot[entry.id], !record.live, pollers[i].lastByFD[record.fd] != entry.id {
                        registrations.removeValue(forKey: entry.id)
                        hot.removeValue(forKey: entry.id)
                    }
                } else {
                    kept.append(entry)
                }
            }
            pollers[i].ended = kept
        }
        let ref = BatchRef(seq: b.seq, timeNs: b.timeNs, poller: b.poller, batchNumber: b.batchNumber)
        var harvestedFor: [RegistrationID] = []
        harvestedFor.reserveCapacity(b.events.count)
        for (index, event) in b.events.enumerated() {
            if let current = pollers[i].interest.currentRegistration(forFD: event.fd),
               hot[current.registrationID]?.data == event.data {
                harvestedFor.append(current.registrationID)
            } else {
                harvestedFor.append(0)
                emit(Finding(kind: .orphanEvent, seq: b.seq, poller: b.poller, batch: ref, eventIndex: UInt32(index),
                             event: event, harvestedFor: nil, ran: nil, dispatch: nil))
            }
        }
        pollers[i].openBatch = OpenBatch(ref: ref, events: b.events, harvestedFor: harvestedFor)
    }

    private mutating func dispatched(_ d: Dispatch) {
        let ranLabel: String
        switch d.source {
        case .event:
            ranLabel = d.suppression != nil ? "suppressed" :
                (hot[d.ranRegistrationID]?.label ?? "registration #\(d.ranRegistrationID)")
        case .timer: ranLabel = "timer #\(d.ranRegistrationID)"
        case .task: ranLabel = "task #\(d.ranRegistrationID)"
        }
        let i = pollers.index(creating: d.poller)
        pollers[i].activeDispatch = DispatchRef(
            seq: d.seq, timeNs: d.timeNs, poller: d.poller, source: d.source,
            registrationID: d.ranRegistrationID, handlerLabel: ranLabel)
        guard d.source == .event else { return }

        guard let openRef = pollers[i].openBatch?.ref, openRef.seq == d.batchSeq else {
            let open = pollers[i].openBatch.map { "its open batch is seq \($0.ref.seq)" } ?? "it has no open batch"
            report(.unknownBatch, d.seq, "dispatch names batch seq \(d.batchSeq) on poller \(d.poller), but \(open)", gapRelated: true)
            return
        }
        let index = Int(d.eventIndex)
        let eventCount = pollers[i].openBatch!.events.count
        guard index < eventCount else {
            report(.eventIndexOutOfRange, d.seq, "dispatch names event \(d.eventIndex) of batch seq \(d.batchSeq), which has \(eventCount) events")
            return
        }
        if pollers[i].openBatch!.dispatched[index] {
            report(.eventDispatchedTwice, d.seq, "event \(d.eventIndex) of batch seq \(d.batchSeq) dispatched a second time")
        } else {
            pollers[i].openBatch!.dispatched[index] = true
            pollers[i].openBatch!.undispatched -= 1
        }
        let event = pollers[i].openBatch!.events[index]
        let harvestedID = pollers[i].openBatch!.harvestedFor[index]
        // The hot path reads the compact entries; full records are copied only for findings.
        let harvestedLive = harvestedID == 0 ? nil : hot[harvestedID]?.live
        var ranHot: HotRegistration?
        let verdict: FindingKind
        if let suppression = d.suppression {
            let current = pollers[i].interest.currentRegistration(forFD: event.fd)
            let stale = harvestedLive.map { !$0 || current?.registrationID != harvestedID } ?? true
            if stale {
                verdict = .justifiedSuppression
            } else if suppression == .notInterested, let current,
                      event.mask.intersection(current.interest.union(.alwaysReported)).isEmpty {
                verdict = .correct
            } else {
                verdict = .lostEvent
            }
        } else {
            guard let entry = hot[d.ranRegistrationID] else {
                report(.unknownRegistration, d.seq, "dispatch ran registration #\(d.ranRegistrationID), which was never registered", gapRelated: true)
                return
            }
            ranHot = entry
            if d.ranRegistrationID == harvestedID {
                verdict = entry.live ? .correct : .deadRegistration
            } else if harvestedID == 0 && !entry.live {
                // An orphan event run by an ended registration (a loop that still
                // maps a closed fd to its old handler): a dead handler ran.
                verdict = .deadRegistration
            } else {
                verdict = .misrouted
            }
        }
        lastDispatchVerdict = verdict
        if verdict == .correct {
            correctCount += 1
        } else {
            emit(Finding(kind: verdict, seq: d.seq, poller: d.poller, batch: openRef, eventIndex: d.eventIndex,
                         event: event, harvestedFor: harvestedID == 0 ? nil : registrations[harvestedID],
                         ran: ranHot == nil ? nil : registrations[d.ranRegistrationID], dispatch: d))
        }
        if let ranHot, ranHot.live {
            trackSpin(d.ranRegistrationID, poller: ranHot.poller, dispatch: d, batch: openRef, event: event, harvestedID: harvestedID)
        }
    }

    /// A registration dispatched in `spinThreshold` consecutive batches of its poller
    /// with the same mask. Only its first dispatch in a batch counts; the finding is
    /// made once per run, at the dispatch that reaches the threshold.
    private mutating func trackSpin(_ ranID: RegistrationID, poller: PollerID, dispatch d: Dispatch, batch: BatchRef,
                                    event: HarvestedEvent, harvestedID: RegistrationID) {
        guard let i = pollers.index(poller) else { return }
        var run = pollers[i].spinRuns[ranID]
            ?? SpinRun(first: batch, lastBatchNumber: batch.batchNumber, mask: d.deliveredMask, length: 0, reported: false)
        if run.length > 0 && run.lastBatchNumber == batch.batchNumber { return }
        if run.length > 0 && run.lastBatchNumber + 1 == batch.batchNumber && run.mask == d.deliveredMask {
            run.length += 1
        } else {
            run = SpinRun(first: batch, lastBatchNumber: batch.batchNumber, mask: d.deliveredMask, length: 1, reported: false)
        }
        run.lastBatchNumber = batch.batchNumber
        if run.length >= options.spinThreshold && !run.reported {
            run.reported = true
            emit(Finding(kind: .spin, seq: d.seq, poller: d.poller, batch: batch, eventIndex: d.eventIndex, event: event,
                         harvestedFor: harvestedID == 0 ? nil : registrations[harvestedID], ran: registrations[ranID],
                         dispatch: d, spinFirstBatch: run.first, spinLength: run.length))
        }
        pollers[i].spinRuns[ranID] = run
    }

    // MARK: - Gaps

    private mutating func gap(_ g: Gap) {
        afterGap = true
        appendGap(GapReport(seq: g.seq, firstLost: g.firstLost, lastLost: g.lastLost, lostCount: g.lostCount,
                            fromTimeNs: g.fromTimeNs, toTimeNs: g.toTimeNs, unannounced: false))
        // Holes in the sequence that this gap explains are not reported separately.
        let before = pendingHoles.count
        pendingHoles.removeAll { $0.firstLost >= g.firstLost && $0.lastLost <= g.lastLost }
        pendingHoleCount -= UInt64(before - pendingHoles.count)
    }

    private mutating func noteHole(from first: SequenceNumber, to last: SequenceNumber, atTime timeNs: UInt64) {
        // A hole with no gap record (yet): the records are missing, so what they did
        // is unknown. Replay goes on as after a gap.
        afterGap = true
        pendingHoleCount += 1
        if options.maxDetailed.map({ pendingHoles.count < $0 }) ?? true {
            pendingHoles.append(GapReport(seq: 0, firstLost: first, lastLost: last, lostCount: last - first + 1,
                                          fromTimeNs: timeNs, toTimeNs: timeNs, unannounced: true))
        }
    }

    private mutating func appendGap(_ gap: GapReport) {
        gapCount += 1
        if options.maxDetailed.map({ gaps.count < $0 }) ?? true { gaps.append(gap) }
    }

    // MARK: - Helpers

    private func cause(_ poller: PollerID) -> DispatchRef? {
        guard poller != 0, let i = pollers.index(poller) else { return nil }
        return pollers[i].activeDispatch
    }

    private mutating func emit(_ finding: Finding) {
        findingCounts[finding.kind, default: 0] += 1
        if options.maxDetailed.map({ findings.count < $0 }) ?? true { findings.append(finding) }
    }

    private mutating func report(_ kind: Inconsistency.Kind, _ seq: SequenceNumber, _ message: String, gapRelated: Bool = false) {
        if gapRelated && afterGap {
            gapAffectedRecords += 1
            return
        }
        inconsistencyCount += 1
        if options.maxDetailed.map({ inconsistencies.count < $0 }) ?? true {
            inconsistencies.append(Inconsistency(seq: seq, kind: kind, message: message))
        }
    }
}
