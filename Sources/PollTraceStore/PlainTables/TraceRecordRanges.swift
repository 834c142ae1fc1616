import PollTraceCore

/// A large v7 trace's records in sequence order, a range at a time, each range read
/// on one of several threads.
///
/// Reading is where a pass over a v7 trace spends its time: a SQLite step and a
/// dozen column reads per row, about 1.7 rows per record, against replay's tenth of
/// that. The trace's seq span is cut into ranges of `rangeSize`; worker `w` of `n`
/// reads ranges `w`, `w + n`, `w + 2n`, ... with its own read-only connection and
/// its own `PlainRecordCursor` (the same decoding as a one-thread read), and the
/// caller takes the ranges back in order, whole: the analyzer replays each where it
/// lies. So the records, their order and the errors are a one-thread read's: a
/// range with a damaged row hands over the records before it, then the error.
///
/// A worker waits while its next range is `2n` or more ahead of the one the caller
/// takes next, so memory stays at a few ranges of records.
public final class TraceRecordRanges {
    private let ranges: RangeHandOver
    private var threads: [NamedThread] = []
    /// The error met in the range last handed over, thrown on the next call.
    private var failure: (any Error)?
    private var failed = false

    /// The span a trace must not exceed, in seqs per record: ranges are cut from the
    /// span, so a sparse one (seqs lost in `drop` mode, or a damaged file) would make
    /// many empty ranges. Such a trace is read by `TraceReader.records()`.
    static let maxSeqsPerRecord: UInt64 = 2

    /// `immutable`: open as the `TraceReader` did (a WAL-mode file without its `-wal`).
    init(path: String, start: UInt64, bounds: ClosedRange<SequenceNumber>, workers: Int, rangeSize: UInt64,
         immutable: Bool) throws {
        // No range larger than the span, so that no range's end passes UInt64.max.
        let rangeSize = min(max(1, rangeSize), bounds.upperBound - bounds.lowerBound + 1)
        let rangeCount = Int((bounds.upperBound - bounds.lowerBound) / rangeSize) + 1
        let workers = max(1, min(workers, rangeCount))
        ranges = RangeHandOver(bounds: bounds, rangeSize: rangeSize, rangeCount: rangeCount, capacity: 2 * workers)
        for worker in 0..<workers {
            // Opened here, so that a file that cannot be opened fails the caller now.
            let connection: SQLiteConnection
            let cursor: PlainRecordCursor
            do {
                connection = try SQLiteConnection(path: path, readOnly: true, immutable: immutable)
                cursor = try PlainRecordCursor(connection: connection, path: path, start: start, range: ranges.range(worker))
            } catch let error as SQLiteError {
                stop()
                throw TraceReader.map(error, path: path)
            }
            let work = UncheckedBox((connection, cursor))
            do {
                threads.append(try NamedThread(name: "trace-read-\(worker)") { [ranges] in
                    ranges.read(stride(from: worker, to: rangeCount, by: workers), with: work.value.1)
                    _ = work.value.0  // the connection outlives its cursor's last use
                })
            } catch {
                stop()
                throw TraceStoreError.readFailed(path: path, detail: "\(error)")
            }
        }
    }

    deinit { stop() }

    /// Stops the workers (each at its next range) and waits for them.
    private func stop() {
        ranges.cancel()
        for thread in threads { thread.join() }
        threads.removeAll()
    }

    /// The next range's records in sequence order (possibly none: the seqs of
    /// records lost in `drop` mode); nil after the last. Rethrows what the reading
    /// thread met (`TraceStoreError`, naming the damage).
    public func next() throws -> [TraceRecord]? {
        if let failure {
            self.failure = nil
            failed = true
            stop()
            throw failure
        }
        guard !failed, let outcome = ranges.take() else { return nil }
        failure = outcome.failure
        if outcome.records.isEmpty && failure != nil { return try next() }
        return outcome.records
    }

    /// Takes back a range once its records are used: they are released here, and
    /// its storage goes back to the workers.
    public func recycle(_ range: inout [TraceRecord]) {
        range.removeAll(keepingCapacity: true)
        if range.capacity > 0 { ranges.keepSpare(range) }
        range = []
    }
}

/// The ranges between the workers that read them and the caller that takes them
/// in order. The workers hold this, not `TraceRecordRanges`, so a caller that drops
/// it early stops them (its `deinit` runs and cancels).
private final class RangeHandOver: @unchecked Sendable {
    private let lock = ConditionLock()
    private let changed: ConditionLock.Condition
    // Guarded by `lock`.
    private var ready: [Int: Outcome] = [:]
    private var head = 0
    private var cancelled = false
    private var spares: [[TraceRecord]] = []

    /// A range's records, and the error that ended it early, if one did.
    struct Outcome {
        var records: [TraceRecord]
        var failure: (any Error)?
    }

    let bounds: ClosedRange<SequenceNumber>
    let rangeSize: UInt64
    let rangeCount: Int
    let capacity: Int

    init(bounds: ClosedRange<SequenceNumber>, rangeSize: UInt64, rangeCount: Int, capacity: Int) {
        self.bounds = bounds
        self.rangeSize = rangeSize
        self.rangeCount = rangeCount
        self.capacity = capacity
        changed = lock.makeCondition()
    }

    func range(_ index: Int) -> ClosedRange<SequenceNumber> {
        let low = bounds.lowerBound + UInt64(index) * rangeSize
        return low...min(bounds.upperBound, low + (rangeSize - 1))
    }

    func cancel() {
        lock.withLock {
            cancelled = true
            changed.broadcast()
        }
    }

    /// A worker's loop: its ranges, in order, each read whole and handed over; it
    /// stops at the first error (handed over in that range's place) or on cancel.
    func read(_ indices: StrideTo<Int>, with cursor: PlainRecordCursor) {
        for (n, index) in indices.enumerated() {
            let buffer: [TraceRecord]? = lock.withLock {
                while index >= head + capacity && !cancelled { changed.wait() }
                return cancelled ? nil : (spares.popLast() ?? [])
            }
            guard let records = buffer else { return }
            var outcome = Outcome(records: records, failure: nil)
            do {
                if n > 0 { try cursor.reposition(to: range(index)) }
                while let record = try cursor.next() { outcome.records.append(record) }
            } catch {
                outcome.failure = error
            }
            let failed = outcome.failure != nil
            lock.withLock {
                ready[index] = outcome
                if index == head { changed.broadcast() }
            }
            if failed { return }
        }
    }

    /// An emptied range's storage, for a worker to fill again.
    func keepSpare(_ buffer: [TraceRecord]) {
        lock.withLock { if spares.count < capacity { spares.append(buffer) } }
    }

    /// The next range's records (nil after the last), waiting for them.
    func take() -> Outcome? {
        lock.withLock {
            guard head < rangeCount else { return nil }
            while ready[head] == nil { changed.wait() }
            let outcome = ready.removeValue(forKey: head)!
            head += 1
            changed.broadcast()
            return outcome
        }
    }
}
