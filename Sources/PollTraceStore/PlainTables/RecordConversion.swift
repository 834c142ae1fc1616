import PollTraceCore

/// The finalizer's pass over a trace's records: each record becomes its row, and,
/// with `.replay`, each dispatch gets the registration its event was harvested for
/// and the verdict of the `Replayer` that `polltrace analyze` runs.
///
/// Memory follows the live state, as replay's does: open batches (one per poller),
/// and registrations whose fd is still open (their row is written when the fd is
/// closed, once their lifetime is known), plus the rows not yet taken (`takeRows`).
/// No SQLite here: the rows are values, inserted by whoever takes them.
struct RecordConversion {
    private let rowWriter: PlainRowWriter
    /// Rows made and not yet taken.
    private(set) var rows = PlainRows()
    /// The trace being made, for errors.
    private let path: String
    private var lastSeq: SequenceNumber?
    private(set) var records: UInt64 = 0
    private(set) var rowCount = 0
    private let replays: Bool
    private var replayer = Replayer(options: ReplayOptions(maxDetailed: nil))
    /// Each poller's last few batches: a dispatch names its event by batch and index
    /// (almost always of the poller's latest batch).
    private var recentBatches: [PollerID: [BatchHarvested]] = [:]
    private static let batchesKept = 8
    /// The seq of each open fd's open record.
    private var openedSeq: [Int32: SequenceNumber] = [:]
    /// Registrations whose fd has not been closed yet, and who holds each number.
    private var pending: [RegistrationID: RegistrationRow] = [:]
    private var pendingByFD: [Int32: [RegistrationID]] = [:]
    /// Labels of registrations by id, for dispatch rows; kept while replay could
    /// still name them (dropped with the fd's close, one batch later at most).
    private var labels: [RegistrationID: String] = [:]
    private var labelsToDrop: [RegistrationID] = []
    private(set) var findingCount: UInt64 = 0
    /// Registrations whose fd was closed before any unregistration: a loop records
    /// the end of a registration just after the close (EventPoller does), so the row
    /// waits for it here instead of being written and updated. Only the most recent
    /// `closedKept` wait (oldest written first), so memory stays bounded.
    private var closedAwaitingUnregistration: [RegistrationID: RegistrationRow] = [:]
    private var closedOrder: [RegistrationID] = []
    private var closedOrderStart = 0
    private static let closedKept = 4096
    /// The registration each event of the current batch was harvested for (reused storage).
    private var harvested: [RegistrationID?] = []

    init(start: UInt64, verdicts: TraceFinalizer.Verdicts, path: String) {
        rowWriter = PlainRowWriter(start: start)
        replays = verdicts == .replay
        self.path = path
    }

    /// Moves the rows made so far into `taken` (dropping what it held) and goes on
    /// filling `taken`'s old storage: the two swap, so no row is copied.
    mutating func takeRows(into taken: inout PlainRows) {
        taken.removeAll()
        rowCount += rows.count
        swap(&rows, &taken)
    }

    /// Adds one record's rows. Replay's verdicts need the records in the order they
    /// happened, so one that comes before an earlier one is refused.
    mutating func consume(_ record: TraceRecord) throws {
        let seq = record.seq
        if let lastSeq, seq <= lastSeq {
            throw TraceStoreError.writeFailed(path: path,
                detail: "record \(seq) arrived after record \(lastSeq): the v7 tables are built from records in seq order")
        }
        lastSeq = seq
        records += 1
        switch record {
        case .fdOpened(let r):
            openedSeq[r.fd] = r.seq
            rowWriter.fdOpened(r, into: &rows)
        case .registered(let r):
            labels[r.registrationID] = r.handlerLabel
            pending[r.registrationID] = RegistrationRow(registered: r, fdOpenedSeq: openedSeq[r.fd])
            pendingByFD[r.fd, default: []].append(r.registrationID)
        case .modified(let r):
            // The registration's row keeps the interest it was registered with;
            // `modifications` has the changes.
            rowWriter.modified(r, into: &rows)
        case .unregistered(let r):
            if var row = pending[r.registrationID] {
                if row.unregisteredSeq == nil {
                    row.unregisteredSeq = r.seq
                    row.endedTimeNs = row.endedTimeNs ?? r.timeNs
                    pending[r.registrationID] = row
                }
            } else if var row = closedAwaitingUnregistration.removeValue(forKey: r.registrationID) {
                row.unregisteredSeq = r.seq
                rowWriter.registration(row, into: &rows)
            }
            rowWriter.unregistered(r, into: &rows)
        case .closed(let r):
            openedSeq[r.fd] = nil
            if let ids = pendingByFD.removeValue(forKey: r.fd) {
                for id in ids {
                    guard var row = pending.removeValue(forKey: id) else { continue }
                    row.closedSeq = r.seq
                    row.endedTimeNs = row.endedTimeNs ?? r.timeNs
                    if row.unregisteredSeq == nil {
                        awaitUnregistration(row)
                    } else {
                        rowWriter.registration(row, into: &rows)
                    }
                    labelsToDrop.append(id)
                }
            }
            rowWriter.closed(r, into: &rows)
        case .batch(let b):
            recentBatches[b.poller, default: []].append(b)
            if recentBatches[b.poller]!.count > Self.batchesKept { recentBatches[b.poller]!.removeFirst() }
            // Registrations closed before this batch can no longer be named by a
            // dispatch of it (its events were harvested after their close).
            for id in labelsToDrop { labels[id] = nil }
            labelsToDrop.removeAll(keepingCapacity: true)
        case .dispatch, .gap, .callFailed, .syscall:
            break
        }

        // Replay sees the record after the rows above were decided, as analyze does.
        var harvestedFor: RegistrationID?
        if replays, case .dispatch(let d) = record, d.source == .event {
            harvestedFor = replayer.harvestedFor(poller: d.poller, eventIndex: Int(d.eventIndex))
        }
        if replays { replayer.consume(record) }

        switch record {
        case .batch(let b):
            harvested.removeAll(keepingCapacity: true)
            for index in b.events.indices {
                harvested.append(replays ? replayer.harvestedFor(poller: b.poller, eventIndex: index) : nil)
            }
            rowWriter.batch(b, harvestedFor: harvested, into: &rows)
        case .dispatch(let d):
            var event: HarvestedEvent?
            if d.source == .event, let batch = recentBatches[d.poller]?.last(where: { $0.seq == d.batchSeq }),
               Int(d.eventIndex) < batch.events.count {
                event = batch.events[Int(d.eventIndex)]
            }
            let label = d.source == .event && d.suppression == nil
                ? labels[d.ranRegistrationID] ?? replayer.registration(d.ranRegistrationID)?.handlerLabel : nil
            let verdict = replays && d.source == .event ? replayer.lastDispatchVerdict : nil
            rowWriter.dispatch(d, event: event, harvestedFor: harvestedFor, label: label, verdict: verdict, into: &rows)
        case .gap(let g): rowWriter.gap(g, into: &rows)
        case .callFailed(let c): rowWriter.callFailed(c, into: &rows)
        case .syscall(let c): rowWriter.syscall(c, into: &rows)
        default: break
        }
        if replays { writeFindings() }
    }

    private mutating func awaitUnregistration(_ row: RegistrationRow) {
        let id = row.registered.registrationID
        closedAwaitingUnregistration[id] = row
        closedOrder.append(id)
        if closedOrder.count - closedOrderStart > Self.closedKept {
            if let oldest = closedAwaitingUnregistration.removeValue(forKey: closedOrder[closedOrderStart]) {
                rowWriter.registration(oldest, into: &rows)
            }
            closedOrderStart += 1
            if closedOrderStart > Self.closedKept {
                closedOrder.removeFirst(closedOrderStart)
                closedOrderStart = 0
            }
        }
    }

    /// Makes the rows of the registrations still open at the end, and replay's last
    /// findings.
    mutating func finish() {
        for (_, row) in pending.sorted(by: { $0.key < $1.key }) { rowWriter.registration(row, into: &rows) }
        pending = [:]
        for id in closedOrder[closedOrderStart...] {
            if let row = closedAwaitingUnregistration.removeValue(forKey: id) { rowWriter.registration(row, into: &rows) }
        }
        if replays {
            replayer.finish()
            writeFindings()
        }
    }

    private mutating func writeFindings() {
        guard !replayer.findings.isEmpty else { return }
        for finding in replayer.takeFindings() {
            rowWriter.finding(FindingRow(finding), into: &rows)
            findingCount += 1
        }
    }
}
