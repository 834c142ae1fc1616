import PollTraceCore

/// Finds the seed's hazard in a trace that has no dispatch records, from the calls
/// the log shows (the rules and why each exists: docs/strace.md, "The analysis").
///
/// A loop handles a batch in order, and handling an event means calling something
/// on its fd. So an event is *handled* once any call is made on its fd after the
/// harvest, other than `epoll_ctl DEL` and `close`. An event whose fd is closed
/// while it is unhandled is followed by its key (`WatchedEvent`) until the
/// harvesting thread's next wait on that epoll fd: if the key is taken again in
/// that window it is a reuse-within-batch hazard, and if the harvesting thread then
/// makes a data call on the fd that holds the key, a likely stale dispatch.
/// Closing an fd after handling its own event is how connections end, and is not
/// a hazard.
///
/// The analyzer consumes records in sequence order with their log lines. It keeps
/// only the open batches and the interest lists (those the importer keeps, while
/// an import runs: `EpollInterestLists`), so memory follows the number of
/// live fds, not the log's length; the work per record is bounded by the events it
/// touches, each of which is visited a bounded number of times.
public final class ForeignHazardAnalyzer: ImportConsumer {
    /// The state lives in one struct: one exclusivity check per record instead of
    /// one per field touched.
    private var engine = HazardEngine()

    public init() {}

    public var findings: [ForeignFinding] { engine.findings }
    public var stats: ForeignStatistics { engine.stats }
    /// Watched-event visits so far: what the analysis costs beyond one step per record.
    var eventVisits: Int { engine.eventVisits }

    /// Reads `lists`, which the importer keeps as it emits records, instead of keeping
    /// its own (`StraceImporter` calls this for an analyzer among its consumers).
    func readInterestLists(_ lists: EpollInterestLists) { engine.readInterestLists(lists) }

    /// Moves the analysis out, for an importer to call directly while it feeds a log
    /// (`StraceImporter.feedAll`); `restoreEngine` puts it back.
    func takeEngine() -> HazardEngine {
        var taken = HazardEngine()
        swap(&taken, &engine)
        return taken
    }

    func restoreEngine(_ taken: HazardEngine) { engine = taken }

    public func pollerStarted(_ info: PollerInfo) { engine.pollerStarted(info) }
    public func consume(_ record: TraceRecord, origin: LineOrigin) { engine.consume(record, origin: origin) }
    /// The log ended: every open batch closes.
    public func finish() { engine.finish() }
}

/// Counts that put findings in proportion.
public struct ForeignStatistics: Hashable, Sendable {
    public var pollers = 0
    public var batches = 0
    public var events = 0
    /// Events whose fd saw a call before the next wait.
    public var eventsHandled = 0
    /// Events for a registration the log showed ending before the result was printed.
    public var eventsAfterUnregister = 0
    /// Events on an epoll fd created before the log began, whose data no ADD in the
    /// log explains (attach mid-run): mapped by taking the data as the fd if open.
    public var eventsWithUnknownRegistration = 0
    /// Events for an fd that already had one in the same batch, folded into it (the
    /// kernel reports a registration once per wait, so it takes two registrations
    /// carrying one data word, or a forged log).
    public var duplicateEvents = 0
    public init() {}
}
