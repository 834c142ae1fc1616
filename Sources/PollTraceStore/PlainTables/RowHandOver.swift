import PollTraceCore

/// The rows `PlainTraceWriter` hands from the thread that makes them to the thread
/// that inserts them: at most `depth` lots waiting, so the maker waits (and memory
/// stays bounded) when SQLite is slower, and the inserter waits when the maker is.
/// Emptied lots come back as spares, so their storage is reused, not reallocated.
final class RowHandOver: @unchecked Sendable {
    struct Lot {
        var rows: PlainRows
        /// Pollers that started since the last lot was handed over (their rows have
        /// no tie to the other rows, so they may go in with these).
        var pollers: [PollerInfo]
    }

    /// Lots waiting: two keep both threads busy (one being inserted, one being made
    /// behind it) without holding much of the trace in memory.
    static let depth = 2

    private let lock = ConditionLock()
    private let changed: ConditionLock.Condition
    // Guarded by `lock`.
    private var waiting: [Lot] = []
    private var spares: [PlainRows] = []
    private var closed = false
    private var failure: (any Error)?

    init() { changed = lock.makeCondition() }

    /// Queues `lot`, waiting while `depth` lots are already waiting. Throws the
    /// inserting side's error if it failed (the lot is then dropped).
    func put(_ lot: Lot) throws {
        try lock.withLock {
            while waiting.count >= Self.depth && failure == nil { changed.wait() }
            if let failure { throw failure }
            waiting.append(lot)
            changed.broadcast()
        }
    }

    /// The next lot, waiting for one; nil once `close` was called and all were taken.
    func take() -> Lot? {
        lock.withLock {
            while waiting.isEmpty && !closed { changed.wait() }
            guard !waiting.isEmpty else { return nil }
            let lot = waiting.removeFirst()
            changed.broadcast()
            return lot
        }
    }

    /// No more lots will be put.
    func close() {
        lock.withLock {
            closed = true
            changed.broadcast()
        }
    }

    /// The inserting side failed: later `put`s throw `error`, and waiting ones wake.
    func fail(_ error: any Error) {
        lock.withLock {
            if failure == nil { failure = error }
            waiting.removeAll()
            changed.broadcast()
        }
    }

    var error: (any Error)? { lock.withLock { failure } }

    func recycle(_ rows: PlainRows) { lock.withLock { spares.append(rows) } }

    /// Storage for the next rows: a recycled lot's, or new.
    func spare() -> PlainRows { lock.withLock { spares.popLast() } ?? PlainRows() }
}
