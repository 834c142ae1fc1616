import PollTraceCore

/// The records one loop iteration makes, held on the loop thread and handed to the
/// recorder in one call when the iteration ends.
///
/// Why: an iteration of a busy loop makes a dozen or more records (its batch, a
/// dispatch per event, each handler's opens, registrations and closes). Handed
/// over one at a time, each took the recorder's locks and brought their cache
/// lines back from the writer's core; handed over together, an iteration takes
/// them once.
///
/// What it does not change: every record still takes its sequence number and its
/// time where it happens, and the recorder still gets an iteration's records in the
/// order they were made. They reach it later, at the latest when the iteration
/// ends, which is before the loop blocks in `epoll_wait` again, so an idle loop
/// holds nothing back. A handler that makes very many records (or never returns)
/// cannot hold them all: past `limit` they are handed over at once.
struct StagedRecords {
    /// Past this many records the iteration hands over what it has so far, so a
    /// handler that makes records in a loop neither grows this without bound nor
    /// keeps the writer waiting for its end.
    static let limit = 512

    private var records: [TraceRecord] = []
    /// True from the harvest to the end of an iteration: only then does the loop
    /// thread own the poller for certain, and only then is staging sure to end with
    /// a hand-over. Record sites outside it (setup before `start`, `close`) hand
    /// their records over at once.
    private(set) var isOpen = false

    /// Starts staging. The first call reserves room for a typical iteration, so the
    /// array does not regrow through its first iterations (it keeps its capacity).
    mutating func open() {
        isOpen = true
        // All `limit` at once: an iteration past 64 records (a full batch, each
        // event's handler recording a few) grew the array a step at a time, a
        // reallocation and a move of every record per step.
        if records.capacity < Self.limit { records.reserveCapacity(Self.limit) }
    }

    /// Holds `record`; true when `limit` is reached and the caller must hand over.
    @inline(__always)
    mutating func add(_ record: consuming TraceRecord) -> Bool {
        records.append(record)
        return records.count >= Self.limit
    }

    /// Every record held, in the order added; holds none after. Keeps staging open.
    mutating func handOver(_ deliver: ([TraceRecord]) -> Void) {
        guard !records.isEmpty else { return }
        deliver(records)
        records.removeAll(keepingCapacity: true)
    }

    /// Hands over what is held and stops staging.
    mutating func close(_ deliver: ([TraceRecord]) -> Void) {
        handOver(deliver)
        isOpen = false
    }
}
