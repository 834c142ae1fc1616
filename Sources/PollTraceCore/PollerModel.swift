/// What a trace's records say about a process's pollers: the process-wide fd table
/// and, per poller, its interest list (each fd's current, live registration).
///
/// The `Replayer` (which judges dispatches) and the `FixVerifier` (which runs the
/// real `Dispatcher` against its own copy of this state) both apply records through
/// this one type, so how a record changes registrations is decided here and nowhere
/// else:
///
/// - a close ends every registration of the fd, on every poller (closing the fd
///   takes it out of every interest list; a dup may keep the kernel's entry, but
///   the registration is dead to the loop);
/// - an open of an fd the table holds open means its close is missing: that close
///   ends the fd's registrations too;
/// - a registration of an fd that already has one on the poller ends the old one
///   (the kernel took the ADD, so the old fd was closed behind the loop's back);
/// - an unregister ends the registration;
/// - a failed `EPOLL_CTL_DEL` ends the fd's registration on that poller, as
///   `EventPoller.unregister` drops its entry when the kernel refuses: the kernel
///   holds no entry for that fd number (ENOENT, EBADF), so no event can come for it.
///
/// Each apply leaves in `change` what the record ended and where it disagreed
/// with the state (an inconsistency for the replayer to report); memory follows
/// the open fds and live registrations.
public struct PollerModel: Sendable {
    public private(set) var fdTable = FDTable()
    private var lists = PollerSlots<InterestList>(empty: InterestList())
    /// Where each live registration is: exactly the registrations the interest
    /// lists hold, so that a record naming a registration by id finds its list.
    private var live = RegistrationMap<LiveRegistration>()
    /// What the last record applied did.
    public private(set) var change = PollerModelChange()

    public init() {}

    // MARK: - Questions

    /// The fd's current, live registration on `poller`, if any.
    @inline(__always)
    public func currentRegistration(onPoller poller: PollerID, fd: Int32) -> RegistrationState? {
        guard let i = lists.index(poller) else { return nil }
        return lists[i].currentRegistration(forFD: fd)
    }

    /// The interest list `poller` holds now (what its dispatcher looks up).
    public func interestList(_ poller: PollerID) -> InterestList {
        lists.index(poller).map { lists[$0] } ?? InterestList()
    }

    /// Where `poller`'s interest list is, for a caller that looks up many fds of
    /// one poller in a row without copying the list (replay, per batch).
    @inline(__always)
    func listIndex(_ poller: PollerID) -> Int? { lists.index(poller) }

    /// The fd's current registration in the list at `listIndex`.
    @inline(__always)
    func currentRegistration(inList i: Int, fd: Int32) -> RegistrationState? {
        lists[i].currentRegistration(forFD: fd)
    }

    public func isLive(_ id: RegistrationID) -> Bool { live.contains(id) }

    // MARK: - Records

    /// Applies one record. `by` is the dispatch whose handler made it, kept on the
    /// fd it opens, for callers that track it.
    public mutating func apply(_ record: TraceRecord, by: DispatchRef? = nil) {
        switch record {
        case .fdOpened(let r): opened(r, by: by)
        case .registered(let r): registered(r)
        case .modified(let r): modified(r)
        case .unregistered(let r): unregistered(r)
        case .closed(let r): closed(r)
        case .callFailed(let r): callFailed(r)
        case .batch, .dispatch, .gap, .syscall: change.reset()
        }
    }

    public mutating func opened(_ r: FDOpened, by: DispatchRef?) {
        change.reset()
        if let previous = fdTable.opened(OpenFD(fd: r.fd, openedSeq: r.seq, origin: r.origin, openedBy: by)) {
            change.anomalies.append(.openOfOpenFD(previous: previous))
            endRegistrations(ofFD: r.fd)
        }
    }

    public mutating func registered(_ r: Registered) {
        change.reset()
        if let slot = live.slot(of: r.registrationID) {
            change.anomalies.append(.duplicateRegistrationID(existingFD: live[slot: slot].fd))
            end(r.registrationID, reason: .unregistered)
        }
        if fdTable.lookup(r.fd) == nil {
            change.anomalies.append(.registerOfUnknownFD)
            fdTable.opened(OpenFD(fd: r.fd, openedSeq: r.seq, origin: nil, openedBy: nil))
        }
        if let previous = currentRegistration(onPoller: r.poller, fd: r.fd) {
            change.anomalies.append(.fdAlreadyRegistered(previous: previous.registrationID))
            end(previous.registrationID, reason: .unregistered)
        }
        add(RegistrationState(registrationID: r.registrationID, fd: r.fd, interest: r.interest), poller: r.poller)
    }

    public mutating func modified(_ r: Modified) {
        change.reset()
        guard let slot = live.slot(of: r.registrationID) else {
            change.anomalies.append(.notLive)
            return
        }
        let at = live[slot: slot]
        if at.fd != r.fd { change.anomalies.append(.registrationFDMismatch(registeredFD: at.fd)) }
        if let i = lists.index(at.poller) { lists[i].modify(fd: at.fd, interest: r.interest) }
    }

    public mutating func unregistered(_ r: Unregistered) {
        change.reset()
        guard let slot = live.slot(of: r.registrationID) else {
            change.anomalies.append(.notLive)
            return
        }
        let fd = live[slot: slot].fd
        if fd != r.fd { change.anomalies.append(.registrationFDMismatch(registeredFD: fd)) }
        end(r.registrationID, reason: .unregistered)
    }

    public mutating func closed(_ r: Closed) {
        change.reset()
        if let closing = fdTable.closed(r.fd) {
            change.closedFDOpenedSeq = closing.openedSeq
        } else {
            change.anomalies.append(.closeOfUnknownFD)
        }
        endRegistrations(ofFD: r.fd)
    }

    /// Only a failed `EPOLL_CTL_DEL` changes the state (see the type's comment): a
    /// failed ADD or MOD left the loop's table as it was, and a failed close was
    /// recorded as a close before the call.
    public mutating func callFailed(_ r: CallFailed) {
        change.reset()
        guard r.call == .epollDelete, let current = currentRegistration(onPoller: r.poller, fd: r.fd) else { return }
        end(current.registrationID, reason: .unregistered)
    }

    /// Takes `state` as live on `poller`, with its fd open: a registration made
    /// before the records begin, which the replayer found named by a dispatch.
    public mutating func adopt(_ state: RegistrationState, poller: PollerID) {
        change.reset()
        fdTable.opened(OpenFD(fd: state.fd, openedSeq: 0, origin: nil, openedBy: nil))
        add(state, poller: poller)
    }

    // MARK: - Changes

    private mutating func add(_ state: RegistrationState, poller: PollerID) {
        let i = lists.index(creating: poller)
        lists[i].add(state)
        live.updateValue(LiveRegistration(poller: poller, fd: state.fd), forKey: state.registrationID)
    }

    /// Ends every live registration of `fd`, on every poller, in poller order.
    private mutating func endRegistrations(ofFD fd: Int32) {
        for i in lists.indicesByPoller {
            if let current = lists[i].currentRegistration(forFD: fd) { end(current.registrationID, reason: .closed) }
        }
    }

    private mutating func end(_ id: RegistrationID, reason: RegistrationEndReason) {
        guard let at = live.removeValue(forKey: id) else { return }
        if let i = lists.index(at.poller), lists[i].currentRegistration(forFD: at.fd)?.registrationID == id {
            lists[i].remove(fd: at.fd)
        }
        change.ended.append(PollerModelChange.Ending(registrationID: id, poller: at.poller, fd: at.fd, reason: reason))
    }
}

/// What one record did to a `PollerModel`.
public struct PollerModelChange: Sendable {
    /// A registration the record ended.
    public struct Ending: Hashable, Sendable {
        public var registrationID: RegistrationID
        public var poller: PollerID
        public var fd: Int32
        public var reason: RegistrationEndReason
    }

    /// Where a record disagreed with the state before it. The model has applied the
    /// record anyway, as the comment on each case says.
    public enum Anomaly: Hashable, Sendable {
        /// An open of an fd held open: its close is missing; the fd's registrations ended.
        case openOfOpenFD(previous: OpenFD)
        /// A registration of an id still live (for `existingFD`): the old one ended.
        case duplicateRegistrationID(existingFD: Int32)
        /// A registration of an fd never seen open: assumed open from here.
        case registerOfUnknownFD
        /// A registration of an fd the poller already had registered: the old one ended.
        case fdAlreadyRegistered(previous: RegistrationID)
        /// A modify or unregister of a registration that is not live: ignored.
        case notLive
        /// A modify or unregister naming another fd than the registration's: applied
        /// to the registration's own fd.
        case registrationFDMismatch(registeredFD: Int32)
        /// A close of an fd never seen open: its registrations ended all the same.
        case closeOfUnknownFD
    }

    /// In the order the record ended them.
    public internal(set) var ended: [Ending] = []
    /// In the order they were found.
    public internal(set) var anomalies: [Anomaly] = []
    /// For a close of an open fd, when that fd was opened (which open it ended).
    /// Plain numbers here, so that keeping them costs no copy of an `OpenFD`.
    public internal(set) var closedFDOpenedSeq: SequenceNumber?

    /// Keeps the arrays' storage: most records end nothing and find nothing wrong.
    mutating func reset() {
        if !ended.isEmpty { ended.removeAll(keepingCapacity: true) }
        if !anomalies.isEmpty { anomalies.removeAll(keepingCapacity: true) }
        closedFDOpenedSeq = nil
    }
}

/// Where a live registration is held.
struct LiveRegistration: RegistrationMapValue {
    var poller: PollerID
    var fd: Int32
    static let placeholder = LiveRegistration(poller: 0, fd: -1)
}
