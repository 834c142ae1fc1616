/// How a registration ended.
public enum RegistrationEndReason: String, Hashable, Sendable {
    /// `EPOLL_CTL_DEL` (an unregistered record).
    case unregistered
    /// Its fd was closed while it was still registered.
    case closed
}

public struct RegistrationEnd: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var reason: RegistrationEndReason
    /// The dispatch whose handler ended it, if a handler did.
    public var by: DispatchRef?
}

/// Everything the replayer knows about one registration: enough to explain a
/// finding (who opened the fd, who registered it, who closed it) without keeping
/// the records themselves.
public struct RegistrationRecord: Hashable, Sendable {
    public var registrationID: RegistrationID
    public var poller: PollerID
    public var fd: Int32
    public var interest: IOEvents
    /// The `epoll_data` word it was registered with.
    public var data: UInt64
    public var handlerLabel: String
    public var registeredSeq: SequenceNumber
    public var registeredTimeNs: UInt64
    public var registeredBy: DispatchRef?
    /// The fd as the table knew it when this registration was made.
    public var fdOpenedSeq: SequenceNumber
    public var fdOrigin: FDOrigin?
    public var fdOpenedBy: DispatchRef?
    /// nil while the registration is live.
    public var end: RegistrationEnd?
    /// When its fd was closed (after or as the registration ended), while replay
    /// still held this registration.
    public var fdClose: RegistrationEnd?

    /// A tag check: `end == nil` went through the generic `Optional` comparison,
    /// which copied the end record on every dispatch.
    public var isLive: Bool {
        if case .none = end { return true }
        return false
    }

    public var state: RegistrationState {
        RegistrationState(registrationID: registrationID, fd: fd, interest: interest)
    }
}

/// One poller's simulated interest list: the fd's current, live registration.
///
/// It answers `RegistrationLookup` exactly as the live poller's table does, so
/// `polltrace verify` can run the real `Dispatcher` against it unchanged.
public struct InterestList: RegistrationLookup, Sendable {
    private var byFD = FDMap<RegistrationState>()

    public init() {}

    public var count: Int { byFD.count }

    public func currentRegistration(forFD fd: Int32) -> RegistrationState? { byFD[fd] }

    /// Returns the registration it replaced, if the fd already had one.
    @discardableResult
    public mutating func add(_ state: RegistrationState) -> RegistrationState? {
        byFD.updateValue(state, forKey: state.fd)
    }

    public mutating func modify(fd: Int32, interest: IOEvents) {
        byFD.modify(fd) { $0.interest = interest }
    }

    @discardableResult
    public mutating func remove(fd: Int32) -> RegistrationState? {
        byFD.removeValue(forKey: fd)
    }
}
