/// Replay of the records that change the simulated process: fds opened and closed,
/// registrations made, changed and ended, and calls that failed. Each change goes
/// through `PollerModel`, the one place its rules live.
extension Replayer {
    mutating func fdOpened(_ r: FDOpened) {
        let by = sideEffect(on: r.poller)
        model.opened(r, by: by)
        for case .openOfOpenFD(let previous) in model.change.anomalies {
            report(.openOfOpenFD, r.seq, "fd \(r.fd) opened (\(r.origin)) while still open since seq \(previous.openedSeq); its close is missing, so its registrations were ended here", gapRelated: true)
        }
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
    }

    mutating func registered(_ r: Registered) {
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

    mutating func modified(_ r: Modified) {
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

    mutating func unregistered(_ r: Unregistered) {
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

    mutating func closed(_ r: Closed) {
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
    mutating func callFailed(_ r: CallFailed) {
        guard r.call == .epollDelete else { return }
        let by = sideEffect(on: r.poller)
        model.callFailed(r)
        noteEndings(seq: r.seq, timeNs: r.timeNs, by: by)
    }

    /// Writes the end of each registration the model's last record ended into its
    /// details, and queues it to be forgotten once no open batch can name it.
    mutating func noteEndings(seq: SequenceNumber, timeNs: UInt64, by: DispatchRef?) {
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
}
