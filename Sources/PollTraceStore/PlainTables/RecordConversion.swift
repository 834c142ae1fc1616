import PollTraceCore

/// The finalizer's pass over a trace's records: each record becomes its row, and,
/// with `.replay`, each dispatch gets the registration its event was harvested for
/// and the verdict of the `Replayer` that `polltrace analyze` runs.
///
/// Memory follows the live state, as replay's does: open batches (one per poller),
/// and registrations whose fd is still open (their row is written when the fd is
/// closed, once their lifetime is known).
struct RecordConversion {
    private let rows: PlainRowWriter
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

    init(rows: PlainRowWriter, verdicts: TraceFinalizer.Verdicts) {
        self.rows = rows
        replays = verdicts == .replay
    }

    mutating func consume(_ record: TraceRecord) throws {
        switch record {
        case .fdOpened(let r):
            openedSeq[r.fd] = r.seq
            try rows.fdOpened(r)
        case .registered(let r):
            labels[r.registrationID] = r.handlerLabel
            pending[r.registrationID] = RegistrationRow(registered: r, fdOpenedSeq: openedSeq[r.fd])
            pendingByFD[r.fd, default: []].append(r.registrationID)
        case .modified(let r):
            // The registration's row keeps the interest it was registered with;
            // `modifications` has the changes.
            try rows.modified(r)
        case .unregistered(let r):
            if var row = pending[r.registrationID] {
                if row.unregisteredSeq == nil {
                    row.unregisteredSeq = r.seq
                    row.endedTimeNs = row.endedTimeNs ?? r.timeNs
                    pending[r.registrationID] = row
                }
            } else if var row = closedAwaitingUnregistration.removeValue(forKey: r.registrationID) {
                row.unregisteredSeq = r.seq
                try rows.registration(row)
            }
            try rows.unregistered(r)
        case .closed(let r):
            openedSeq[r.fd] = nil
            if let ids = pendingByFD.removeValue(forKey: r.fd) {
                for id in ids {
                    guard var row = pending.removeValue(forKey: id) else { continue }
                    row.closedSeq = r.seq
                    row.endedTimeNs = row.endedTimeNs ?? r.timeNs
                    if row.unregisteredSeq == nil {
                        try awaitUnregistration(row)
                    } else {
                        try rows.registration(row)
                    }
                    labelsToDrop.append(id)
                }
            }
            try rows.closed(r)
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
            try rows.batch(b, harvestedFor: harvested)
        case .dispatch(let d):
            var event: HarvestedEvent?
            if d.source == .event, let batch = recentBatches[d.poller]?.last(where: { $0.seq == d.batchSeq }),
               Int(d.eventIndex) < batch.events.count {
                event = batch.events[Int(d.eventIndex)]
            }
            let label = d.source == .event && d.suppression == nil
                ? labels[d.ranRegistrationID] ?? replayer.registration(d.ranRegistrationID)?.handlerLabel : nil
            let verdict = replays && d.source == .event ? replayer.lastDispatchVerdict : nil
            try rows.dispatch(d, event: event, harvestedFor: harvestedFor, label: label, verdict: verdict)
        case .gap(let g): try rows.gap(g)
        case .callFailed(let c): try rows.callFailed(c)
        case .syscall(let c): try rows.syscall(c)
        default: break
        }
        if replays { try writeFindings() }
    }

    private mutating func awaitUnregistration(_ row: RegistrationRow) throws {
        let id = row.registered.registrationID
        closedAwaitingUnregistration[id] = row
        closedOrder.append(id)
        if closedOrder.count - closedOrderStart > Self.closedKept {
            if let oldest = closedAwaitingUnregistration.removeValue(forKey: closedOrder[closedOrderStart]) {
                try rows.registration(oldest)
            }
            closedOrderStart += 1
            if closedOrderStart > Self.closedKept {
                closedOrder.removeFirst(closedOrderStart)
                closedOrderStart = 0
            }
        }
    }

    /// Writes the registrations still open at the end, and replay's last findings.
    mutating func finish() throws {
        for (_, row) in pending.sorted(by: { $0.key < $1.key }) { try rows.registration(row) }
        pending = [:]
        for id in closedOrder[closedOrderStart...] {
            if let row = closedAwaitingUnregistration.removeValue(forKey: id) { try rows.registration(row) }
        }
        if replays {
            replayer.finish()
            try writeFindings()
        }
        try rows.finish()
    }

    private mutating func writeFindings() throws {
        guard !replayer.findings.isEmpty else { return }
        for finding in replayer.takeFindings() {
            try rows.finding(FindingRow(finding))
            findingCount += 1
        }
    }
}
