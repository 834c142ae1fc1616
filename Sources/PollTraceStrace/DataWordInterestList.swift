import PollTraceCore

/// One epoll instance's interest list as far as the log shows it, keyed by data
/// word: the way back from an event's `epoll_data` word to the registration (and
/// so the fd) it was registered with.
///
/// Loops store different things in `epoll_data`: the fd (the seed, redis), a
/// pointer (nginx, libuv), a registration id beside the fd (SwiftNIO). Only the
/// ADD/MOD history says which, so the mapping is learned from it, never guessed
/// from the number.
///
/// A class: the lists are read several times per line, and reading a struct of
/// several collections out of its container would copy (retain) each of them.
///
/// The storage below is `@exclusivity(unchecked)`: an instance belongs to one
/// `EpollInterestLists` on one thread, and no method calls out to code that could
/// reach the instance again while it changes a collection, so the run-time check
/// (about a tenth of what resolving an event's word costs) could never fire. Debug
/// builds check the thread on every access instead (`ThreadOwnership`).
final class DataWordInterestList {
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

    /// Each access asserts, in debug builds, that the owning thread makes it.
    private let ownership = ThreadOwnership()
    private(set) var registrations: [RegistrationID: Registration] {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedRegistrations }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedRegistrations }
    }
    @exclusivity(unchecked) private var uncheckedRegistrations: [RegistrationID: Registration] = [:]

    init() {}
    /// A key's list stays when it empties (bounded, like `ended`, by the distinct
    /// fds and data words): a short connection's fd number comes back at once, and
    /// re-creating its one-element list on every ADD would allocate each time.
    /// Small words (an fd, as most loops store) and fd numbers index arrays.
    private var byData: SmallKeyMap<[RegistrationID]> {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedByData }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedByData }
    }
    private var byFD: SmallKeyMap<[RegistrationID]> {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedByFD }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedByFD }
    }
    @exclusivity(unchecked) private var uncheckedByData = SmallKeyMap<[RegistrationID]>()
    @exclusivity(unchecked) private var uncheckedByFD = SmallKeyMap<[RegistrationID]>()
    /// The last registration each data word had once it ended; bounded by the number
    /// of distinct data words (fd numbers, or a server's pool of connection objects).
    private var ended: SmallKeyMap<(fd: Int32, line: UInt32)> {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedEnded }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedEnded }
    }
    @exclusivity(unchecked) private var uncheckedEnded = SmallKeyMap<(fd: Int32, line: UInt32)>()

    func add(_ registration: Registration) {
        registrations[registration.id] = registration
        byData.modify(registration.data, inserting: []) { $0.append(registration.id) }
        byFD.modify(SmallKeyMap<[RegistrationID]>.key(registration.fd), inserting: []) { $0.append(registration.id) }
    }

    func modify(_ id: RegistrationID, interest: IOEvents, data: UInt64?) {
        guard let slot = registrations.index(forKey: id) else { return }
        registrations.values[slot].interest = interest
        let old = registrations.values[slot].data
        if let data, data != old {
            Self.remove(id, from: &byData, key: old)
            registrations.values[slot].data = data
            byData.modify(data, inserting: []) { $0.append(id) }
        }
    }

    func remove(_ id: RegistrationID, atLine line: UInt32) {
        guard let registration = registrations.removeValue(forKey: id) else { return }
        Self.remove(id, from: &byData, key: registration.data)
        Self.remove(id, from: &byFD, key: SmallKeyMap<[RegistrationID]>.key(registration.fd))
        ended[registration.data] = (registration.fd, line)
    }

    /// `fd` was closed; registrations on it that survive become orphans.
    func fdClosed(_ fd: Int32, atLine line: UInt32) {
        guard let ids = byFD[SmallKeyMap<[RegistrationID]>.key(fd)] else { return }
        for id in ids {
            guard let slot = registrations.index(forKey: id), registrations.values[slot].fdClosedAtLine == nil else { continue }
            registrations.values[slot].fdClosedAtLine = line
        }
    }

    /// Every live registration made on the number `fd` (orphans included).
    func registrations(onFD fd: Int32) -> [Registration] {
        (byFD[SmallKeyMap<[RegistrationID]>.key(fd)] ?? []).compactMap { registrations[$0] }
    }

    /// The registration on `fd` that is still attached to its number, if any.
    func current(forFD fd: Int32) -> Registration? {
        guard let ids = byFD[SmallKeyMap<[RegistrationID]>.key(fd)] else { return nil }
        for id in ids.reversed() {
            if let registration = registrations[id], registration.fdClosedAtLine == nil { return registration }
        }
        return nil
    }

    func resolve(_ data: UInt64) -> Resolution {
        var orphan: Registration?
        if let ids = byData[data] {
            for id in ids.reversed() {
                guard let registration = registrations[id] else { continue }
                if registration.fdClosedAtLine == nil { return .live(registration) }
                orphan = orphan ?? registration
            }
        }
        if let orphan { return .orphan(orphan) }
        if let (fd, line) = ended[data] { return .unregistered(fd: fd, atLine: line) }
        return .never
    }

    private static func remove(_ id: RegistrationID, from index: inout SmallKeyMap<[RegistrationID]>, key: UInt64) {
        // In place: copying the list out first would copy its storage.
        index.modifyIfPresent(key) { ids in
            if let at = ids.lastIndex(of: id) { ids.remove(at: at) }
        }
    }
}
