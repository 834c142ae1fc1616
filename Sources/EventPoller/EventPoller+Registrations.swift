import PollTraceCore

/// Registering, modifying, unregistering and closing fds. Every change goes to the
/// kernel first and is recorded once it succeeded; an `epoll_ctl` failure is
/// recorded as `callFailed` and thrown to the caller.
extension EventPoller {
    /// Adds `fd` to the interest list with `interest` (level-triggered unless
    /// `.edgeTriggered` is in it) and `handler`.
    ///
    /// The fd keeps its handler until it is unregistered or closed through the poller.
    @discardableResult
    public func register(fd: Int32, interest: IOEvents, label: String,
                         handler: @escaping EventHandler) throws -> Registration {
        assertOnLoopThread()
        try checkOpen()
        let registrationID = RegistrationIDs.next()
        let data = dispatcher.epollData(registrationID: registrationID, fd: fd)
        try recordingFailure(.epollAdd, fd: fd) {
            try Linux.Epoll.add(epollFD: epollFD, fd: fd, events: interest.kernelEvents, data: data)
        }
        let registration = Registration(registrationID: registrationID, fd: fd, poller: id, label: label)
        if let stale = table.insert(RegistrationEntry(registration: registration, interest: interest, handler: handler)) {
            // The kernel accepted the ADD, so the old registration's fd was closed
            // behind the poller's back (plain close(2)); its number now means this fd.
            logger.warning("fd \(fd) was closed outside the poller while \(stale.registration) was live")
        }
        record {
            .registered(Registered(seq: $0, timeNs: $1, poller: id, registrationID: registrationID, fd: fd,
                                   interest: interest, data: data, handlerLabel: label))
        }
        return registration
    }

    /// Changes what the registration is interested in (`EPOLL_CTL_MOD`).
    public func modify(_ registration: Registration, interest: IOEvents) throws {
        assertOnLoopThread()
        try checkOpen()
        let entry = try currentEntry(registration)
        let data = dispatcher.epollData(registrationID: registration.registrationID, fd: registration.fd)
        try recordingFailure(.epollModify, fd: registration.fd) {
            try Linux.Epoll.modify(epollFD: epollFD, fd: registration.fd, events: interest.kernelEvents, data: data)
        }
        entry.interest = interest
        record {
            .modified(Modified(seq: $0, timeNs: $1, poller: id, registrationID: registration.registrationID,
                               fd: registration.fd, interest: interest))
        }
    }

    /// The registration's current interest, or nil if it is no longer registered.
    public func interest(of registration: Registration) -> IOEvents? {
        assertOnLoopThread()
        guard let entry = table.entry(forFD: registration.fd),
              entry.registration.registrationID == registration.registrationID else { return nil }
        return entry.interest
    }

    /// Removes the fd from the interest list (`EPOLL_CTL_DEL`); the fd stays open.
    ///
    /// If the kernel refuses (the fd was closed behind the poller's back), the
    /// registration is dropped from the table anyway, and the error is thrown.
    public func unregister(_ registration: Registration) throws {
        assertOnLoopThread()
        try checkOpen()
        _ = try currentEntry(registration)
        defer { table.remove(fd: registration.fd, registrationID: registration.registrationID) }
        try recordingFailure(.epollDelete, fd: registration.fd) {
            try Linux.Epoll.delete(epollFD: epollFD, fd: registration.fd)
        }
        recordUnregistered(registration)
    }

    /// Unregisters and closes the registration's fd.
    public func close(_ registration: Registration) throws {
        assertOnLoopThread()
        try checkOpen()
        _ = try currentEntry(registration)
        var deleteError: (any Error)?
        do {
            try unregister(registration)
        } catch {
            deleteError = error // recorded by unregister; the fd is closed all the same
        }
        try closeDescriptor(registration.fd)
        if let deleteError { throw deleteError }
    }

    /// Closes `fd`, unregistering it first if it has a registration on this poller.
    public func close(fd: Int32) throws {
        assertOnLoopThread()
        try checkOpen()
        if let entry = table.entry(forFD: fd) {
            try close(entry.registration)
        } else {
            try closeDescriptor(fd)
        }
    }

    /// The close record takes its number before `close(2)`: once the call returns,
    /// another thread may be handed the same number, and its fd-opened record must
    /// sort after this one.
    func closeDescriptor(_ fd: Int32) throws {
        recordClosing(fd: fd)
        try recordingFailure(.close, fd: fd) { try Linux.FileDescriptor.close(fd) }
    }

    func recordUnregistered(_ registration: Registration) {
        record {
            .unregistered(Unregistered(seq: $0, timeNs: $1, poller: id,
                                       registrationID: registration.registrationID, fd: registration.fd))
        }
    }

    /// The table's entry for `registration`, or a thrown `notRegistered` if the fd's
    /// number now belongs to another registration or to none: touching it through a
    /// stale registration would change someone else's fd.
    func currentEntry(_ registration: Registration) throws -> RegistrationEntry {
        guard registration.poller == id, let entry = table.entry(forFD: registration.fd),
              entry.registration.registrationID == registration.registrationID else {
            throw EventPollerError.notRegistered(registration)
        }
        return entry
    }
}
