import PollTraceCore

/// A live registration and its handler, as the poller keeps it.
///
/// A class so that the `snapshot` policy can hold on to the entry of a registration
/// closed in the middle of a batch and still run its handler.
final class RegistrationEntry {
    let registration: Registration
    var interest: IOEvents
    let handler: EventHandler

    init(registration: Registration, interest: IOEvents, handler: @escaping EventHandler) {
        self.registration = registration; self.interest = interest; self.handler = handler
    }

    var state: RegistrationState {
        RegistrationState(registrationID: registration.registrationID, fd: registration.fd, interest: interest)
    }
}

/// The poller's fd -> current registration table: what `Dispatcher` asks at
/// harvest and at dispatch. Indexed by fd number (fds are small and dense), so a
/// lookup is one array access. Confined to the poller's loop thread.
final class RegistrationTable: RegistrationLookup {
    private var entries: [RegistrationEntry?] = []
    private(set) var count = 0

    func currentRegistration(forFD fd: Int32) -> RegistrationState? {
        entry(forFD: fd)?.state
    }

    @inline(__always)
    func entry(forFD fd: Int32) -> RegistrationEntry? {
        let index = Int(fd)
        guard index >= 0, index < entries.count else { return nil }
        return entries[index]
    }

    /// Makes `entry` the fd's current registration; returns the one it replaced.
    @discardableResult
    func insert(_ entry: RegistrationEntry) -> RegistrationEntry? {
        let index = Int(entry.registration.fd)
        if index >= entries.count { entries.append(contentsOf: repeatElement(nil, count: index + 1 - entries.count)) }
        let old = entries[index]
        entries[index] = entry
        if old == nil { count += 1 }
        return old
    }

    /// Removes the fd's current registration if it is `registrationID`.
    @discardableResult
    func remove(fd: Int32, registrationID: RegistrationID) -> RegistrationEntry? {
        guard let entry = entry(forFD: fd), entry.registration.registrationID == registrationID else { return nil }
        entries[Int(fd)] = nil
        count -= 1
        return entry
    }

    /// Every live entry, by fd number.
    var all: [RegistrationEntry] { entries.compactMap { $0 } }
}
