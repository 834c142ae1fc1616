import PollTraceCore

/// One epoll instance's interest list as far as the log shows it, keyed by data
/// word: the way back from an event's `epoll_data` word to the registration (and
/// so the fd) it was registered with.
///
/// Loops store different things in `epoll_data`: the fd (the seed, redis), a
/// pointer (nginx, libuv), a registration id beside the fd (SwiftNIO). Only the
/// ADD/MOD history says which, so the mapping is learned from it, never guessed
/// from the number.
struct DataWordInterestList {
    struct Registration {
        var id: RegistrationID
        var fd: Int32
        var data: UInt64
        var interest: IOEvents
        /// The fd number was closed while the registration lives on (the file is
        /// still open through a dup): its events are orphans.
        var fdClosedAtLine: UInt32?
        var registeredAtLine: UInt32
        /// The handler label (the fd's `-y`/`-yy` annotation at the ADD).
        var label = ""
    }

    /// How an event's data word maps back.
    enum Resolution {
        case live(Registration)
        /// Registered, but its fd number has been closed (a dup keeps the file open).
        case orphan(Registration)
        /// The data was registered once on this epoll fd, but no longer is.
        case unregistered(fd: Int32, atLine: UInt32)
        /// No registration on this epoll fd ever carried this data.
        case never
    }

    private(set) var registrations: [RegistrationID: Registration] = [:]
    /// A key's list stays when it empties (bounded, like `ended`, by the distinct
    /// fds and data words): a short connection's fd number comes back at once, and
    /// re-creating its one-element list on every ADD would allocate each time.
    private var byData: [UInt64: [RegistrationID]] = [:]
    private var byFD: [Int32: [RegistrationID]] = [:]
    /// The last registration each data word had once it ended; bounded by the number
    /// of distinct data words (fd numbers, or a server's pool of connection objects).
    private var ended: [UInt64: (fd: Int32, line: UInt32)] = [:]

    mutating func add(_ registration: Registration) {
        registrations[registration.id] = registration
        byData[registration.data, default: []].append(registration.id)
        byFD[registration.fd, default: []].append(registration.id)
    }

    mutating func modify(_ id: RegistrationID, interest: IOEvents, data: UInt64?) {
        guard var registration = registrations[id] else { return }
        registration.interest = interest
        if let data, data != registration.data {
            remove(id, from: &byData, key: registration.data)
            registration.data = data
            byData[data, default: []].append(id)
        }
        registrations[id] = registration
    }

    mutating func remove(_ id: RegistrationID, atLine line: UInt32) {
        guard let registration = registrations.removeValue(forKey: id) else { return }
        remove(id, from: &byData, key: registration.data)
        remove(id, from: &byFD, key: registration.fd)
        ended[registration.data] = (registration.fd, line)
    }

    /// `fd` was closed; registrations on it that survive become orphans.
    mutating func fdClosed(_ fd: Int32, atLine line: UInt32) {
        for id in byFD[fd] ?? [] where registrations[id]?.fdClosedAtLine == nil {
            registrations[id]?.fdClosedAtLine = line
        }
    }

    /// Every live registration made on the number `fd` (orphans included).
    func registrations(onFD fd: Int32) -> [Registration] {
        (byFD[fd] ?? []).compactMap { registrations[$0] }
    }

    /// The registration on `fd` that is still attached to its number, if any.
    func current(forFD fd: Int32) -> Registration? {
        for id in (byFD[fd] ?? []).reversed() {
            if let registration = registrations[id], registration.fdClosedAtLine == nil { return registration }
        }
        return nil
    }

    func resolve(_ data: UInt64) -> Resolution {
        var orphan: Registration?
        for id in (byData[data] ?? []).reversed() {
            guard let registration = registrations[id] else { continue }
            if registration.fdClosedAtLine == nil { return .live(registration) }
            orphan = orphan ?? registration
        }
        if let orphan { return .orphan(orphan) }
        if let (fd, line) = ended[data] { return .unregistered(fd: fd, atLine: line) }
        return .never
    }

    private func remove<Key: Hashable>(_ id: RegistrationID, from index: inout [Key: [RegistrationID]], key: Key) {
        // One hash, and in place: copying the array out first would copy its storage.
        guard let slot = index.index(forKey: key) else { return }
        if let at = index.values[slot].lastIndex(of: id) { index.values[slot].remove(at: at) }
    }
}
