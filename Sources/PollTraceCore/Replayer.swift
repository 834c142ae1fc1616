/// Replays a trace's records, in sequence order, one at a time, against the state
/// they imply (a `PollerModel`: the fd table and each poller's interest list), and
/// classifies every event dispatch (see `FindingKind`).
///
/// Memory follows the live state (open fds, live registrations, one open batch per
/// poller, recently ended registrations an open batch may still name), not the
/// length of the trace. Deterministic: the same records give the same result.
public struct Replayer: Sendable {
    public let options: ReplayOptions

    // The simulated process.
    /// Which registrations are live and which fds open: the one model of them.
    private var model = PollerModel()
    private var pollers = PollerStates(empty: PollerReplayState())
    /// The details of live and recently ended registrations, for findings (who
    /// opened, registered, ended them). Read in place through `slot(of:)`, so the
    /// hot path never copies a record (with its strings) to look at it. A record
    /// here is live exactly when `model` holds its registration.
    private var registrations = RegistrationMap<ReplayRegistration>()

    // What replay found.
    /// Per `FindingKind.ordinal`, `correct` included.
    private var kindCounts = FindingKind.Counts()
    /// Exact counts of every kind found (kinds never found are absent).
    public var counts: [FindingKind: UInt64] { kindCounts.dictionary }
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
    /// The registration the last consumed record made replay adopt (`adopt`), if any,
    /// so that a verifier beside it can add it to its own table.
    public private(set) var lastAdopted: RegistrationState?
    private var afterGap = false
    private var pendingHoles: [GapReport] = []
    private var pendingHoleCount: UInt64 = 0

    public init(options: ReplayOptions = ReplayOptions()) { self.options = options }

    public var fdTable: FDTable { model.fdTable }

    /// The interest list replay holds for `poller` now.
    public func interestList(_ poller: PollerID) -> InterestList { model.interestList(poller) }

    public func registration(_ id: RegistrationID) -> RegistrationRecord? { registrations[id]?.record }

    /// The registration event `eventIndex` of `poller`'s open batch was harvested
    /// for; nil for an orphan or when there is no such event.
    public func harvestedFor(poller: PollerID, eventIndex: Int) -> RegistrationID? {
        guard let i = pollers.index(poller), pollers[i].batch.isOpen, eventIndex >= 0,
              eventIndex < pollers[i].batch.slots.count else { return nil }
        let id = pollers[i].batch.slots[eventIndex].harvestedFor
        return id == 0 ? nil : id
    }

    /// Hands over the findings collected so far and forgets them, for a caller that
    /// streams them out (the trace finalizer): memory then stays flat however many
    /// there are. Counts are unaffected.
    public mutating func takeFindings() -> [Finding] {
        defer { findings = [] }
        return findings
    }

    /// Registrations held in memory (live plus recently ended). For memory tests.
    public var heldRegistrations: Int { registrations.count }

    // MARK: - Consuming records

    public mutating func consume(_ record: TraceRecord) {
        lastDispatchVerdict = nil
        lastAdopted = nil
        let seq = record.seq
        if recordCount > 0 || lastSeq > 0 {
            if seq == lastSeq {
                report(.duplicateSequence, seq, "sequence number \(seq) appears twice; the second record (\(record.kind)) was skipped")
                return
            }
            if seq < lastSeq {
                let last = lastSeq
                report(.sequenceOutOfOrder, seq, "record \(seq) (\(record.kind)) comes after \(last); it was skipped")
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
        case .callFailed(let r): callFailed(r)
        case .syscall: break
        }
    }

    /// Call once after the last record: closes open batches and settles gaps.
    public mutating func finish() {
        for i in pollers.indicesByPoller {
            if pollers[i].batch.isOpen { undispatchedEvents += UInt64(pollers[i].batch.undispatched) }
            pollers[i].batch.close()
        }
        for hole in pendingHoles { appendGap(hole) }
        let unlisted = pendingHoleCount - UInt64(pendingHoles.count)
        gapCount += unlisted
        pendingHoles = []
        pendingHoleCount = 0
    }

    // MARK: - fds and registrations

    private mutating func fdOpened(_ r: FDOpened) {
        let by = sideEffect(on: r.poller)
        model.opened(r, by: by)
        for case .openOfOpenFD(let previous) in model.change.anomalies {
            report(.openOfOpenFD, r.seq, "fd \(r.fd) opened (\(r.origin)) while still open since seq \(previous.openedSeq); its close is missing, so its registrations were ended here", gapRelated: true)
        }
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
    }

    private mutating func registered(_ r: Registered) {
        let by = sideEffect(on: r.poller)
        model.registered(r)
        for anomaly in model.change.anomalies {
            switch anomaly {
            case .duplicateRegistrationID(let existingFD):
                report(.duplicateRegistrationID, r.seq, "registration #\(r.registrationID) registered again (fd \(r.fd)) while still live for fd \(existingFD); the old one was ended here")
            case .registerOfUnknownFD:
                report(.registerOfUnknownFD, r.seq, "fd \(r.fd) registered (#\(r.registrationID)) but never seen opened; assumed open", gapRelated: true)
            case .fdAlreadyRegistered(let previous):
                report(.fdAlreadyRegistered, r.seq, "fd \(r.fd) registered (#\(r.registrationID)) on poller \(r.poller) while #\(previous) still held it; the old one was ended here")
            default:
                break
            }
        }
        // Before the new record is stored: a duplicate id ends the old record here.
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
        // The model has the fd open now (assumed open if it was unknown).
        let openFD = model.fdTable.lookup(r.fd)!
        let record = RegistrationRecord(
            registrationID: r.registrationID, poller: r.poller, fd: r.fd, interest: r.interest, data: r.data,
            handlerLabel: r.handlerLabel, registeredSeq: r.seq, registeredTimeNs: r.timeNs, registeredBy: by,
            fdOpenedSeq: openFD.openedSeq, fdOrigin: openFD.origin, fdOpenedBy: openFD.openedBy, end: nil, fdClose: nil)
        registrations.updateValue(ReplayRegistration(record: record, tasksAreItsWork: r.handlerLabel == HandlerLabels.pollerWakeUp),
                                  forKey: r.registrationID)
        let i = pollers.index(creating: r.poller)
        // The previous registration of this number on this poller is now superseded:
        // a loop that kept it in its table has replaced it, so it can be forgotten
        // once no open batch can name it.
        if let previous = pollers[i].lastByFD.updateValue(r.registrationID, forKey: r.fd), previous != r.registrationID,
           let slot = registrations.slot(of: previous), !registrations[slot: slot].record.isLive {
            let batchCount = pollers[i].batchCount
            pollers[i].ended.append(EndedRegistration(id: previous, batchCount: batchCount))
        }
    }

    private mutating func modified(_ r: Modified) {
        sideEffect(on: r.poller)
        model.modified(r)
        for anomaly in model.change.anomalies {
            switch anomaly {
            case .notLive:
                report(.unknownRegistration, r.seq, "modify of registration #\(r.registrationID) (fd \(r.fd)), which is not live", gapRelated: true)
                return
            case .registrationFDMismatch(let fd):
                report(.registrationFDMismatch, r.seq, "modify names fd \(r.fd) but registration #\(r.registrationID) is for fd \(fd); applied to fd \(fd)")
            default:
                break
            }
        }
        if let slot = registrations.slot(of: r.registrationID) { registrations[slot: slot].record.interest = r.interest }
    }

    private mutating func unregistered(_ r: Unregistered) {
        let by = sideEffect(on: r.poller)
        model.unregistered(r)
        for anomaly in model.change.anomalies {
            switch anomaly {
            case .notLive:
                // Already ended by the close of its fd: the poller records the end
                // of a registration whose fd it closed, which may come after the close.
                if !registrations.contains(r.registrationID) {
                    report(.unknownRegistration, r.seq, "unregister of registration #\(r.registrationID) (fd \(r.fd)), never seen registered", gapRelated: true)
                }
                return
            case .registrationFDMismatch(let fd):
                report(.registrationFDMismatch, r.seq, "unregister names fd \(r.fd) but registration #\(r.registrationID) is for fd \(fd)")
            default:
                break
            }
        }
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
    }

    private mutating func closed(_ r: Closed) {
        let by = sideEffect(on: r.poller)
        model.closed(r)
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
        guard let closedOpenedSeq = model.change.closedFDOpenedSeq else {
            report(.closeOfUnknownFD, r.seq, "close of fd \(r.fd), which was never seen open", gapRelated: true)
            return
        }
        // Note the close on every registration of this open fd replay still holds, so
        // a finding can say which handler closed the fd as well as who unregistered it.
        let close = RegistrationEnd(seq: r.seq, timeNs: r.timeNs, reason: .closed, by: by)
        for i in pollers.indicesByPoller {
            for entry in pollers[i].ended {
                if let slot = registrations.slot(of: entry.id), registrations[slot: slot].record.fd == r.fd,
                   registrations[slot: slot].record.fdOpenedSeq == closedOpenedSeq,
                   registrations[slot: slot].record.fdClose == nil {
                    registrations[slot: slot].record.fdClose = close
                }
            }
        }
    }

    /// A failed `EPOLL_CTL_DEL` is an unregister whose kernel call failed (see
    /// `PollerModel`): the handler's work, like any fd record on its thread.
    private mutating func callFailed(_ r: CallFailed) {
        guard r.call == .epollDelete else { return }
        let by = sideEffect(on: r.poller)
        model.callFailed(r)
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
    }

    /// Writes the end of each registration the model's last record ended into its
    /// details, and queues it to be forgotten once no open batch can name it.
    private mutating func noteEndings(seq: SequenceNumber, timeNs: UInt64, by: DispatchRef?) {
        if model.change.ended.isEmpty { return }
        for k in model.change.ended.indices {
            let ending = model.change.ended[k]
            guard let slot = registrations.slot(of: ending.registrationID), registrations[slot: slot].record.isLive else { continue }
            registrations[slot: slot].record.end = RegistrationEnd(seq: seq, timeNs: timeNs, reason: ending.reason, by: by)
            registrations[slot: slot].spin = nil
            if let i = pollers.index(ending.poller) {
                let batchCount = pollers[i].batchCount
                pollers[i].ended.append(EndedRegistration(id: ending.registrationID, batchCount: batchCount))
            }
        }
    }

    // MARK: - Batches and dispatches

    private mutating func harvested(_ b: BatchHarvested) {
        let i = pollers.index(creating: b.poller)
        if pollers[i].batch.isOpen { undispatchedEvents += UInt64(pollers[i].batch.undispatched) }
        pollers[i].activeDispatch = nil
        pollers[i].activeRegistration = 0
        pollers[i].ranForTasks.removeAll(keepingCapacity: true)
        pollers[i].batchCount += 1
        // A registration that ended before the previous batch was harvested can no
        // longer be named by an open batch: forget it (memory follows live state).
        let keepAfter = pollers[i].batchCount - 1
        if let oldest = pollers[i].ended.first, oldest.batchCount < keepAfter {
            // Taken out so that it is filtered in place, with no copy.
            var ended = pollers[i].ended
            pollers[i].ended = []
            var kept = 0
            for entry in ended {
                if entry.batchCount < keepAfter {
                    // The fd number's last registration on this poller is kept even
                    // when ended: a loop whose table still maps the number to it (the
                    // fd closed behind its back) may run it much later. It is
                    // forgotten when the number is registered again.
                    if let slot = registrations.slot(of: entry.id), !registrations[slot: slot].record.isLive,
                       pollers[i].lastByFD[registrations[slot: slot].record.fd] != entry.id {
                        registrations.removeValue(forKey: entry.id)
                    }
                } else {
                    ended[kept] = entry
                    kept += 1
                }
            }
            ended.removeLast(ended.count - kept)
            pollers[i].ended = ended
        }
        let ref = BatchRef(seq: b.seq, timeNs: b.timeNs, poller: b.poller, batchNumber: b.batchNumber)
        // The batch's per-event slots reuse the previous batch's storage.
        pollers[i].batch.open(ref: ref, events: b.events)
        let list = model.listIndex(b.poller)
        for index in b.events.indices {
            let event = b.events[index]
            if let list, let current = model.currentRegistration(inList: list, fd: event.fd),
               let slot = registrations.slot(of: current.registrationID),
               registrations[slot: slot].record.data == event.data {
                pollers[i].batch.slots[index].harvestedFor = current.registrationID
            } else if afterGap && knowsNothing(of: event.fd, onPoller: i) {
                // Replay has seen nothing of this fd, and records are missing before
                // here: its registration is in them. That is every long-lived fd of a
                // trace file that starts mid-stream (the daemon's rotated files), and
                // calling those orphans made a healthy rotated trace fail by the
                // thousands. Unverifiable, so counted with what the gap affected; the
                // dispatch that follows names the registration, which `adopt` takes.
                gapAffectedRecords += 1
            } else {
                emit(Finding(kind: .orphanEvent, seq: b.seq, poller: b.poller, batch: ref, eventIndex: UInt32(index),
                             event: event, harvestedFor: nil, ran: nil, dispatch: nil))
            }
        }
    }

    private mutating func dispatched(_ d: Dispatch) {
        // The registration that ran, looked up once; its slot stays valid below, as
        // nothing here inserts or removes a registration.
        let ranSlot = d.source == .event && d.suppression == nil ? registrations.slot(of: d.ranRegistrationID) : nil
        let ranLabel: String
        switch d.source {
        case .event:
            if d.suppression != nil {
                ranLabel = "suppressed"
            } else if let ranSlot {
                ranLabel = registrations[slot: ranSlot].record.handlerLabel
            } else {
                ranLabel = "registration #\(d.ranRegistrationID)"
            }
        case .timer: ranLabel = "timer #\(d.ranRegistrationID)"
        case .task: ranLabel = "task #\(d.ranRegistrationID)"
        }
        let i = pollers.index(creating: d.poller)
        pollers[i].activeDispatch = DispatchRef(
            seq: d.seq, timeNs: d.timeNs, poller: d.poller, source: d.source,
            registrationID: d.ranRegistrationID, handlerLabel: ranLabel)
        pollers[i].activeRegistration = ranSlot == nil ? 0 : d.ranRegistrationID
        if let ranSlot, registrations[slot: ranSlot].tasksAreItsWork { pollers[i].ranForTasks.append(d.ranRegistrationID) }
        if d.source == .task && !pollers[i].ranForTasks.isEmpty {
            // The wake-up eventfd fired because tasks were posted, and here they run.
            for id in pollers[i].ranForTasks { endSpinRun(of: id) }
            pollers[i].ranForTasks.removeAll(keepingCapacity: true)
        }
        guard d.source == .event else { return }

        guard pollers[i].batch.isOpen, pollers[i].batch.ref.seq == d.batchSeq else {
            let open = pollers[i].batch.isOpen ? "its open batch is seq \(pollers[i].batch.ref.seq)" : "it has no open batch"
            report(.unknownBatch, d.seq, "dispatch names batch seq \(d.batchSeq) on poller \(d.poller), but \(open)", gapRelated: true)
            return
        }
        let openRef = pollers[i].batch.ref
        let index = Int(d.eventIndex)
        let eventCount = pollers[i].batch.slots.count
        guard index < eventCount else {
            report(.eventIndexOutOfRange, d.seq, "dispatch names event \(d.eventIndex) of batch seq \(d.batchSeq), which has \(eventCount) events")
            return
        }
        if pollers[i].batch.slots[index].dispatched {
            report(.eventDispatchedTwice, d.seq, "event \(d.eventIndex) of batch seq \(d.batchSeq) dispatched a second time")
        } else {
            pollers[i].batch.slots[index].dispatched = true
            pollers[i].batch.undispatched -= 1
        }
        let event = pollers[i].batch.events[index]
        let harvestedID = pollers[i].batch.slots[index].harvestedFor
        // The hot path reads records in place; full records are copied only for findings.
        var harvestedLive: Bool?
        if harvestedID != 0, let slot = registrations.slot(of: harvestedID) { harvestedLive = registrations[slot: slot].record.isLive }
        var ranLive = false
        let verdict: FindingKind
        if let suppression = d.suppression {
            let current = model.currentRegistration(onPoller: d.poller, fd: event.fd)
            let stale = harvestedLive.map { !$0 || current?.registrationID != harvestedID } ?? true
            if stale {
                verdict = .justifiedSuppression
            } else if suppression == .notInterested, let current,
                      event.mask.deliverable(to: current.interest).isEmpty {
                verdict = .correct
            } else {
                verdict = .lostEvent
            }
        } else {
            guard let ranSlot else {
                if afterGap && harvestedID == 0 && knowsNothing(of: event.fd, onPoller: i) {
                    adopt(d.ranRegistrationID, poller: d.poller, pollerIndex: i, event: event)
                }
                report(.unknownRegistration, d.seq, "dispatch ran registration #\(d.ranRegistrationID), which was never registered", gapRelated: true)
                return
            }
            ranLive = registrations[slot: ranSlot].record.isLive
            if d.ranRegistrationID == harvestedID {
                verdict = ranLive ? .correct : .deadRegistration
            } else if harvestedID == 0 && !ranLive {
                // An orphan event run by an ended registration (a loop that still
                // maps a closed fd to its old handler): a dead handler ran.
                verdict = .deadRegistration
            } else {
                verdict = .misrouted
            }
        }
        lastDispatchVerdict = verdict
        if verdict == .correct {
            kindCounts.add(.correct)
        } else {
            emit(Finding(kind: verdict, seq: d.seq, poller: d.poller, batch: openRef, eventIndex: d.eventIndex,
                         event: event, harvestedFor: harvestedID == 0 ? nil : registrations[harvestedID]?.record,
                         ran: ranSlot.map { registrations.record(inSlot: $0) }, dispatch: d))
        }
        if let ranSlot, ranLive {
            trackSpin(ranSlot, dispatch: d, batch: openRef, event: event, harvestedID: harvestedID)
        }
    }

    /// After a gap, a dispatch ran a registration replay never saw, for an fd it
    /// never saw: both were made in the missing records (a rotated file's listener,
    /// say). Replay takes the registration as live from here, with the event's data
    /// word and every event bit as its interest: the kernel reported the event, so
    /// its bits were in the interest, and a later modify would be recorded. The
    /// fd's later events are then checked instead of being left unchecked. Its
    /// label is unknown, so it might be a poller's wake-up eventfd: tasks count as
    /// its work.
    private mutating func adopt(_ id: RegistrationID, poller: PollerID, pollerIndex i: Int, event: HarvestedEvent) {
        let record = RegistrationRecord(
            registrationID: id, poller: poller, fd: event.fd, interest: [.readable, .priority, .writable, .readHangup],
            data: event.data, handlerLabel: "(registered before the trace)", registeredSeq: 0, registeredTimeNs: 0,
            registeredBy: nil, fdOpenedSeq: 0, fdOrigin: nil, fdOpenedBy: nil, end: nil, fdClose: nil)
        registrations.updateValue(ReplayRegistration(record: record, tasksAreItsWork: true), forKey: id)
        model.adopt(record.state, poller: poller)
        pollers[i].lastByFD.updateValue(id, forKey: event.fd)
        lastAdopted = record.state
    }

    /// An fd record made on `poller`'s thread: an effect of the dispatch running
    /// there, which is returned (the record's cause, for findings). It is also that
    /// handler doing visible work: a registration whose handler works each time it
    /// runs is busy, not stuck (a listener under a connection flood accepts in every
    /// batch), so its spin run ends here.
    @discardableResult
    private mutating func sideEffect(on poller: PollerID) -> DispatchRef? {
        guard poller != 0, let i = pollers.index(poller) else { return nil }
        if pollers[i].activeRegistration != 0 { endSpinRun(of: pollers[i].activeRegistration) }
        return pollers[i].activeDispatch
    }

    /// No open, registration or close of `fd` (on poller index `i`) has reached
    /// replay: after a gap, the records that made it are among the missing.
    private func knowsNothing(of fd: Int32, onPoller i: Int) -> Bool {
        pollers[i].lastByFD[fd] == nil && model.fdTable.lookup(fd) == nil
    }

    private mutating func endSpinRun(of id: RegistrationID) {
        if let slot = registrations.slot(of: id) { registrations[slot: slot].spin = nil }
    }

    /// A registration dispatched in `spinThreshold` consecutive batches of its poller
    /// with the same mask, without visible work in any but the last of them
    /// (`sideEffect`; for EventPoller's wake-up eventfd, the posted tasks it was woken
    /// for). Only its first dispatch in a batch counts; the finding is made once per
    /// run, at the dispatch that reaches the threshold. The run is kept on the
    /// (live) registration itself and dropped when it ends.
    private mutating func trackSpin(_ ranSlot: Int, dispatch d: Dispatch, batch: BatchRef,
                                    event: HarvestedEvent, harvestedID: RegistrationID) {
        let batchNumber = batch.batchNumber
        if let run = registrations[slot: ranSlot].spin, run.length > 0 {
            if run.lastBatchNumber == batchNumber { return }
            if run.lastBatchNumber + 1 == batchNumber && run.mask == d.deliveredMask {
                // Extends the run in place: the common case costs no copy.
                registrations[slot: ranSlot].spin!.length += 1
                registrations[slot: ranSlot].spin!.lastBatchNumber = batchNumber
                let length = run.length + 1
                if length >= options.spinThreshold && !run.reported {
                    registrations[slot: ranSlot].spin!.reported = true
                    reportSpin(ranSlot, dispatch: d, batch: batch, event: event, harvestedID: harvestedID,
                               first: run.first, length: length)
                }
                return
            }
        }
        // A new run starts here.
        let reached = 1 >= options.spinThreshold
        registrations[slot: ranSlot].spin = SpinRun(first: batch, lastBatchNumber: batchNumber, mask: d.deliveredMask,
                                                    length: 1, reported: reached)
        if reached { reportSpin(ranSlot, dispatch: d, batch: batch, event: event, harvestedID: harvestedID, first: batch, length: 1) }
    }

    private mutating func reportSpin(_ ranSlot: Int, dispatch d: Dispatch, batch: BatchRef, event: HarvestedEvent,
                                     harvestedID: RegistrationID, first: BatchRef, length: Int) {
        emit(Finding(kind: .spin, seq: d.seq, poller: d.poller, batch: batch, eventIndex: d.eventIndex, event: event,
                     harvestedFor: harvestedID == 0 ? nil : registrations[harvestedID]?.record,
                     ran: registrations.record(inSlot: ranSlot), dispatch: d, spinFirstBatch: first, spinLength: length))
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

    private mutating func emit(_ finding: Finding) {
        kindCounts.add(finding.kind)
        if options.maxDetailed.map({ findings.count < $0 }) ?? true { findings.append(finding) }
    }

    /// The message is built only when it is kept: after a gap, a trace can have
    /// millions of records that would each build one to throw away.
    private mutating func report(_ kind: Inconsistency.Kind, _ seq: SequenceNumber, _ message: @autoclosure () -> String,
                                 gapRelated: Bool = false) {
        if gapRelated && afterGap {
            gapAffectedRecords += 1
            return
        }
        inconsistencyCount += 1
        if options.maxDetailed.map({ inconsistencies.count < $0 }) ?? true {
            inconsistencies.append(Inconsistency(seq: seq, kind: kind, message: message()))
        }
    }
}
