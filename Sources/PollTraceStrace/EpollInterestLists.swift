import PollTraceCore

/// The interest list of every epoll fd in a log, by poller, each keyed by data
/// word (`DataWordInterestList`), kept from the records that change them:
/// `registered`, `modified`, `unregistered` and `closed`.
///
/// The importer needs the lists to find an event's fd and the registrations a close
/// ends; the hazard analysis needs them to find an event's registration and handler.
/// One instance serves both: `StraceImporter` applies each record after every
/// consumer has seen it, and hands its instance to a `ForeignHazardAnalyzer` among
/// its consumers. A consumer therefore reads the lists as they were before the
/// record it is handed (the analysis reads an ending registration's data word
/// there). The analysis of a stored trace has no importer, and keeps its own
/// instance from the records it reads, by the same rules.
///
/// A class, so that the importer and the analysis share one; the importer's hot path
/// reaches it once or twice per record. Its storage is `@exclusivity(unchecked)`, as
/// `DataWordInterestList`'s is and for the same reason: one thread, and no method
/// that can come back to the instance while it changes it; debug builds check the
/// thread on every access.
final class EpollInterestLists {
    /// Each access asserts, in debug builds, that the owning thread makes it.
    private let ownership = ThreadOwnership()
    /// By poller id (numbered from 1 in an import, so they index an array).
    private var lists: SmallKeyMap<DataWordInterestList> {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedLists }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedLists }
    }
    @exclusivity(unchecked) private var uncheckedLists = SmallKeyMap<DataWordInterestList>()
    /// The pollers with registrations in each fd table (process): a close of a
    /// number concerns the epoll fds of its own process only.
    private var pollersOfTable: SmallKeyMap<[PollerID]> {
        @inline(__always) _read { ownership.assertOwned(); yield uncheckedPollersOfTable }
        @inline(__always) _modify { ownership.assertOwned(); yield &uncheckedPollersOfTable }
    }
    @exclusivity(unchecked) private var uncheckedPollersOfTable = SmallKeyMap<[PollerID]>()

    init() {}

    /// Applies what `record` does to the interest lists.
    func apply(_ record: TraceRecord, origin: LineOrigin) {
        switch record {
        case .registered(let r):
            let poller = UInt64(r.poller)
            if lists[poller] == nil {
                lists[poller] = DataWordInterestList()
                pollersOfTable.modify(UInt64(origin.fdTable), inserting: []) { $0.append(r.poller) }
            }
            lists[poller]?.add(.init(id: r.registrationID, fd: r.fd, data: r.data, interest: r.interest,
                                     fdClosedAtLine: nil, registeredAtLine: origin.line, label: r.handlerLabel))
        case .modified(let r):
            lists[UInt64(r.poller)]?.modify(r.registrationID, interest: r.interest, data: nil)
        case .unregistered(let r):
            lists[UInt64(r.poller)]?.remove(r.registrationID, atLine: origin.line)
        case .closed(let r):
            // The number's registrations that outlive it (a dup keeps the file open) become orphans.
            guard let pollers = pollersOfTable[UInt64(origin.fdTable)] else { return }
            for poller in pollers { lists[UInt64(poller)]?.fdClosed(r.fd, atLine: origin.line) }
        case .fdOpened, .callFailed, .syscall, .batch, .dispatch, .gap:
            break
        }
    }

    /// The epoll instance of `poller` is gone (its file released): frees its list.
    func drop(_ poller: PollerID) {
        guard lists[UInt64(poller)] != nil else { return }
        lists[UInt64(poller)] = nil
        var tables: [UInt64] = []
        pollersOfTable.forEach { table, pollers in if pollers.contains(poller) { tables.append(table) } }
        for table in tables { pollersOfTable.modifyIfPresent(table) { $0.removeAll { $0 == poller } } }
    }

    /// The registration an event's data word maps back to, in `poller`'s list.
    func resolve(_ data: UInt64, in poller: PollerID) -> DataWordInterestList.Resolution {
        lists[UInt64(poller)]?.resolve(data) ?? .never
    }

    /// The registration on `fd` in `poller` that is still attached to its number, if any.
    func current(forFD fd: Int32, in poller: PollerID) -> DataWordInterestList.Registration? {
        lists[UInt64(poller)]?.current(forFD: fd)
    }

    /// Every live registration made on the number `fd` in `poller` (orphans included).
    func registrations(onFD fd: Int32, in poller: PollerID) -> [DataWordInterestList.Registration] {
        lists[UInt64(poller)]?.registrations(onFD: fd) ?? []
    }

    /// The live registration `id` in `poller`.
    func registration(_ id: RegistrationID, in poller: PollerID) -> DataWordInterestList.Registration? {
        lists[UInt64(poller)]?.registrations[id]
    }
}
