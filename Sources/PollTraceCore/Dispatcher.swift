/// A registration as the dispatcher needs to see it.
public struct RegistrationState: Hashable, Sendable {
    public var registrationID: RegistrationID
    public var fd: Int32
    public var interest: IOEvents
    public init(registrationID: RegistrationID, fd: Int32, interest: IOEvents) {
        self.registrationID = registrationID; self.fd = fd; self.interest = interest
    }
}

/// The one question the dispatcher asks of a registration table. The live poller
/// answers it from its own table; the replayer answers it from the simulated one.
/// That is the whole seam between them: both run the decision below unchanged.
public protocol RegistrationLookup {
    /// The fd's current, live registration on this poller, if any.
    func currentRegistration(forFD fd: Int32) -> RegistrationState?
}

/// An event between harvest and dispatch, with whatever the policy captured at harvest.
public struct PendingEvent: Hashable, Sendable {
    public var index: UInt32
    public var event: HarvestedEvent
    /// `snapshot` only: the registration current for the fd when the batch was harvested.
    public var capturedRegistration: RegistrationState?
    public init(index: UInt32, event: HarvestedEvent, capturedRegistration: RegistrationState? = nil) {
        self.index = index; self.event = event; self.capturedRegistration = capturedRegistration
    }
}

/// Which handler runs for one event, or why none does.
public enum DispatchDecision: Hashable, Sendable {
    /// Run `registrationID`'s handler with `mask`.
    case run(registrationID: RegistrationID, mask: IOEvents)
    case suppress(SuppressionReason)
}

/// The dispatch decision, in one pure place.
///
/// The live `EventPoller` calls `harvest` right after `epoll_wait` and `decide` just
/// before each handler; `polltrace verify` calls the same two methods against a
/// simulated table fed from a trace. There is no second model of dispatch, so what
/// verify proves about the guarded policy is proved about the code the poller runs.
public struct Dispatcher: Hashable, Sendable {
    public let policy: DispatchPolicy

    public init(policy: DispatchPolicy) { self.policy = policy }

    /// The `epoll_data` word this policy registers an fd with. Naive and snapshot
    /// loops store the bare fd, as the seed's loop did; guarded adds the id.
    public func epollData(registrationID: RegistrationID, fd: Int32) -> UInt64 {
        switch policy {
        case .naive, .snapshot:
            UInt64(UInt32(bitPattern: fd))
        case .guarded:
            EpollData.pack(registrationID: registrationID, fd: fd)
        }
    }

    /// What the policy captures when a batch is harvested, before any handler runs.
    public func harvest<Lookup: RegistrationLookup>(_ events: [HarvestedEvent], lookup: Lookup) -> [PendingEvent] {
        var pending: [PendingEvent] = []
        pending.reserveCapacity(events.count)
        for (index, event) in events.enumerated() {
            var entry = PendingEvent(index: UInt32(index), event: event)
            if policy == .snapshot {
                entry.capturedRegistration = lookup.currentRegistration(forFD: event.fd)
            }
            pending.append(entry)
        }
        return pending
    }

    /// Which handler runs for `pending`, given the table as it is at dispatch time.
    public func decide<Lookup: RegistrationLookup>(_ pending: PendingEvent, lookup: Lookup) -> DispatchDecision {
        let event = pending.event
        switch policy {
        case .naive:
            // The bug: whatever owns the number now gets the event, with its old mask.
            guard let current = lookup.currentRegistration(forFD: event.fd) else { return .suppress(.noHandler) }
            return .run(registrationID: current.registrationID, mask: event.mask)

        case .snapshot:
            // Runs the handler captured at harvest even if it was released since.
            guard let captured = pending.capturedRegistration else { return .suppress(.noHandler) }
            return .run(registrationID: captured.registrationID, mask: event.mask)

        case .guarded:
            let harvestedFor = EpollData.registrationID(event.data)
            guard let current = lookup.currentRegistration(forFD: event.fd) else {
                return .suppress(.registrationGone)
            }
            guard current.registrationID == harvestedFor else { return .suppress(.registrationReplaced) }
            // A MOD earlier in the batch may have narrowed the interest: deliver only
            // what the handler still asks for (errors and hangups always count).
            let mask = event.mask.deliverable(to: current.interest)
            guard !mask.isEmpty else { return .suppress(.notInterested) }
            return .run(registrationID: current.registrationID, mask: mask)
        }
    }
}
