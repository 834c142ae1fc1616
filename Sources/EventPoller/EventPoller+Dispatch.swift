import CLinux
import PollTraceCore

/// One loop iteration: harvest a batch, dispatch each event through `Dispatcher`,
/// then run due timers and posted tasks. Each dispatch takes its sequence number
/// when it starts and is recorded when it ends, so everything its handler records
/// falls between it and the next dispatch or batch.
extension EventPoller {
    @discardableResult
    func iterate(timeoutMs: Int32) throws -> Int {
        let waitStartNs = recording == nil ? 0 : MonotonicClock.nowNs()
        let count = try Linux.Epoll.wait(epollFD: epollFD, into: eventBuffer, capacity: eventCapacity,
                                         timeoutMs: timeoutMs)
        // The iteration's records go to the recorder together when it ends, before
        // the next `epoll_wait` (`StagedRecords`).
        if recording != nil { staged.open() }
        defer { if let recording { staged.close { recording.record(contentsOf: $0) } } }
        batchNumber += 1
        var events: [HarvestedEvent] = []
        events.reserveCapacity(count)
        for index in 0..<count {
            let event = eventBuffer[index]
            events.append(HarvestedEvent(fd: EpollData.fd(event.data.u64), mask: IOEvents(kernelEvents: event.events),
                                         data: event.data.u64))
        }
        var batchSeq: SequenceNumber = 0
        // The clock is read once between consecutive dispatches: one's end is the
        // next one's start (what lies between is the pure dispatch decision).
        var clockNs: UInt64 = 0
        if let recording {
            batchSeq = recording.nextSequence()
            clockNs = MonotonicClock.nowNs()
            deliver(.batch(BatchHarvested(
                seq: batchSeq, timeNs: clockNs, poller: id, batchNumber: batchNumber, timeoutMs: timeoutMs,
                waitedNs: clockNs &- waitStartNs, events: events)), via: recording)
        }
        if count > 0 {
            let pending = dispatcher.harvest(events, lookup: table)
            if policy == .snapshot { captureEntries(for: pending) }
            for event in pending {
                clockNs = dispatchEvent(event, batchSeq: batchSeq, startNs: clockNs)
            }
            capturedForBatch.removeAll(keepingCapacity: true)
        }
        runDueTimers()
        runPostedTasks()
        return count
    }

    /// `snapshot`: keep the captured registrations' entries (and handlers) alive for
    /// the batch, even if a handler earlier in it closes them.
    private func captureEntries(for pending: [PendingEvent]) {
        for event in pending {
            if let captured = event.capturedRegistration, let entry = table.entry(forFD: captured.fd) {
                capturedForBatch.append(entry)
            }
        }
    }

    /// The entry whose handler the dispatcher chose: the fd's current one, or (for
    /// `snapshot`) the one captured at harvest.
    private func entry(for registrationID: RegistrationID, fd: Int32) -> RegistrationEntry? {
        if let entry = table.entry(forFD: fd), entry.registration.registrationID == registrationID { return entry }
        return capturedForBatch.first { $0.registration.registrationID == registrationID }
    }

    /// Dispatches one event; returns the clock at its end (0 when not recording).
    private func dispatchEvent(_ pending: PendingEvent, batchSeq: SequenceNumber, startNs: UInt64) -> UInt64 {
        var seq: SequenceNumber = 0
        if let recording { seq = recording.nextSequence() }
        var ran: RegistrationID = 0
        var delivered: IOEvents = []
        var suppression: SuppressionReason?
        var threw = false
        switch dispatcher.decide(pending, lookup: table) {
        case .run(let registrationID, let mask):
            if let entry = entry(for: registrationID, fd: pending.event.fd) {
                ran = registrationID
                delivered = mask
                threw = invoke(entry, mask: mask)
            } else {
                assertionFailure("dispatcher chose registration \(registrationID), which the poller does not hold")
                suppression = .noHandler
            }
        case .suppress(let reason):
            suppression = reason
        }
        guard let recording else { return 0 }
        let endNs = MonotonicClock.nowNs()
        deliver(.dispatch(Dispatch(
            seq: seq, timeNs: startNs, poller: id, source: .event, batchSeq: batchSeq,
            eventIndex: pending.index, ranRegistrationID: ran, deliveredMask: delivered,
            suppression: suppression, handlerThrew: threw, durationNs: endNs &- startNs)), via: recording)
        return endNs
    }

    private func invoke(_ entry: RegistrationEntry, mask: IOEvents) -> Bool {
        do {
            try entry.handler(mask, HandlerContext(poller: self, registration: entry.registration))
            return false
        } catch {
            logger.error("handler of \(entry.registration) threw on \(mask): \(error)")
            return true
        }
    }

    /// Runs `body` as one dispatch of `source` (a timer or a task). Returns whether it threw.
    @discardableResult
    func dispatchNonEvent(_ source: DispatchSource, id dispatchID: UInt32, _ body: () throws -> Void) -> Bool {
        var seq: SequenceNumber = 0
        var startNs: UInt64 = 0
        if let recording {
            seq = recording.nextSequence()
            startNs = MonotonicClock.nowNs()
        }
        var threw = false
        do {
            try body()
        } catch {
            threw = true
            logger.error("\(source == .timer ? "timer" : "task") \(dispatchID) threw: \(error)")
        }
        if let recording {
            deliver(.dispatch(Dispatch(
                seq: seq, timeNs: startNs, poller: id, source: source, batchSeq: 0, eventIndex: 0,
                ranRegistrationID: dispatchID, deliveredMask: [], suppression: nil, handlerThrew: threw,
                durationNs: MonotonicClock.nowNs() &- startNs)), via: recording)
        }
        return threw
    }
}

extension IOEvents {
    /// The one place the kernel's event bits become the library's. They are the
    /// same numbers (IOEvents stores the kernel's EPOLL* values, which the tests
    /// check against <sys/epoll.h>), so this is a plain copy.
    @inline(__always)
    init(kernelEvents: UInt32) { self.init(rawValue: kernelEvents) }

    /// The bits handed to `epoll_ctl`.
    @inline(__always)
    var kernelEvents: UInt32 { rawValue }
}
