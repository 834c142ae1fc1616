/// Replay of batches and dispatches: which registration each event was harvested
/// for, the verdict on each dispatch, and the spins a registration runs into.
extension Replayer {
    mutating func harvested(_ b: BatchHarvested) {
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

    mutating func dispatched(_ d: Dispatch) {
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
    mutating func adopt(_ id: RegistrationID, poller: PollerID, pollerIndex i: Int, event: HarvestedEvent) {
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
    mutating func sideEffect(on poller: PollerID) -> DispatchRef? {
        guard poller != 0, let i = pollers.index(poller) else { return nil }
        if pollers[i].activeRegistration != 0 { endSpinRun(of: pollers[i].activeRegistration) }
        return pollers[i].activeDispatch
    }

    /// No open, registration or close of `fd` (on poller index `i`) has reached
    /// replay: after a gap, the records that made it are among the missing.
    func knowsNothing(of fd: Int32, onPoller i: Int) -> Bool {
        pollers[i].lastByFD[fd] == nil && model.fdTable.lookup(fd) == nil
    }

    mutating func endSpinRun(of id: RegistrationID) {
        if let slot = registrations.slot(of: id) { registrations[slot: slot].spin = nil }
    }

    /// A registration dispatched in `spinThreshold` consecutive batches of its poller
    /// with the same mask, without visible work in any but the last of them
    /// (`sideEffect`; for EventPoller's wake-up eventfd, the posted tasks it was woken
    /// for). Only its first dispatch in a batch counts; the finding is made once per
    /// run, at the dispatch that reaches the threshold. The run is kept on the
    /// (live) registration itself and dropped when it ends.
    mutating func trackSpin(_ ranSlot: Int, dispatch d: Dispatch, batch: BatchRef,
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

    mutating func reportSpin(_ ranSlot: Int, dispatch d: Dispatch, batch: BatchRef, event: HarvestedEvent,
                                     harvestedID: RegistrationID, first: BatchRef, length: Int) {
        emit(Finding(kind: .spin, seq: d.seq, poller: d.poller, batch: batch, eventIndex: d.eventIndex, event: event,
                     harvestedFor: harvestedID == 0 ? nil : registrations[harvestedID]?.record,
                     ran: registrations.record(inSlot: ranSlot), dispatch: d, spinFirstBatch: first, spinLength: length))
    }
}
