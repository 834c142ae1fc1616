import PollTraceCore
import Synchronization

/// The daemon's counters, updated from every poller thread with relaxed atomics
/// (they are statistics: no other memory is published through them).
public final class DaemonStats: Sendable {
    // Connections (control API and RTP TCP together).
    let connectionsCurrent = Atomic<Int>(0)
    let connectionsPeak = Atomic<Int>(0)
    let connectionsAccepted = Atomic<Int>(0)
    let connectionsRefused = Atomic<Int>(0)
    let controlRequests = Atomic<Int>(0)
    let controlErrors = Atomic<Int>(0)
    let requestTimeouts = Atomic<Int>(0)
    // Services.
    let servicesCurrent = Atomic<Int>(0)
    let servicesOpened = Atomic<Int>(0)
    let servicesClosed = Atomic<Int>(0)
    let datagrams = Atomic<Int>(0)
    let rtpConnections = Atomic<Int>(0)
    let rtpBytes = Atomic<Int>(0)
    /// Handler invocations whose event was not for the handler's own fd state
    /// (an accept or read that found nothing to do). Under `naive` this is where a
    /// misrouted event shows up in the daemon itself.
    let emptyWakeups = Atomic<Int>(0)
    /// Dispatch verdicts, batches and records, counted as the records pass (only
    /// while tracing), in one tally per poller: every record passes here, and
    /// counters shared by all pollers bounced their cache line between the cores on
    /// each one. A poller's id picks its tally (ids past 16 share).
    private let tallies = UnretainedObjects((0..<16).map { _ in RecordTally() })

    public init() {}

    /// Counts a new connection if there is room for it under `limit`; false means
    /// refuse it. Lock-free: a compare-and-swap loop, so two pollers accepting at
    /// once can never both take the last slot.
    func admitConnection(limit: Int) -> Bool {
        var current = connectionsCurrent.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = connectionsCurrent.compareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged {
                connectionsAccepted.wrappingAdd(1, ordering: .relaxed)
                var peak = connectionsPeak.load(ordering: .relaxed)
                while peak < current + 1 {
                    let (done, seen) = connectionsPeak.compareExchange(expected: peak, desired: current + 1, ordering: .relaxed)
                    if done { break }
                    peak = seen
                }
                return true
            }
            current = original
        }
        connectionsRefused.wrappingAdd(1, ordering: .relaxed)
        return false
    }

    func connectionClosed() { connectionsCurrent.wrappingSubtract(1, ordering: .relaxed) }

    /// Looks at each record on its way to the trace and counts batches and verdicts.
    func observe(_ record: borrowing TraceRecord) {
        tallies.with(Int(record.poller & 15)) { tally in
            tally.records.wrappingAdd(1, ordering: .relaxed)
            switch record {
            case .batch:
                tally.batches.wrappingAdd(1, ordering: .relaxed)
            case .dispatch(let dispatch) where dispatch.source == .event:
                if let reason = dispatch.suppression {
                    _ = tally.withSuppressed(reason) { $0.wrappingAdd(1, ordering: .relaxed) }
                } else {
                    tally.dispatchesRan.wrappingAdd(1, ordering: .relaxed)
                }
            default:
                break
            }
        }
    }

    /// `observe` for one loop iteration's records (all from one poller): counted in
    /// locals, then one add per counter, instead of one or two atomic adds per record.
    func observe(contentsOf records: [TraceRecord]) {
        guard let first = records.first else { return }
        var batches = 0, ran = 0
        var suppressed = (replaced: 0, gone: 0, notInterested: 0, noHandler: 0)
        for record in records {
            switch record {
            case .batch: batches += 1
            case .dispatch(let dispatch) where dispatch.source == .event:
                switch dispatch.suppression {
                case nil: ran += 1
                case .registrationReplaced: suppressed.replaced += 1
                case .registrationGone: suppressed.gone += 1
                case .notInterested: suppressed.notInterested += 1
                case .noHandler: suppressed.noHandler += 1
                }
            default: break
            }
        }
        tallies.with(Int(first.poller & 15)) { tally in
            tally.records.wrappingAdd(records.count, ordering: .relaxed)
            if batches > 0 { tally.batches.wrappingAdd(batches, ordering: .relaxed) }
            if ran > 0 { tally.dispatchesRan.wrappingAdd(ran, ordering: .relaxed) }
            if suppressed.replaced > 0 { tally.suppressedReplaced.wrappingAdd(suppressed.replaced, ordering: .relaxed) }
            if suppressed.gone > 0 { tally.suppressedGone.wrappingAdd(suppressed.gone, ordering: .relaxed) }
            if suppressed.notInterested > 0 { tally.suppressedNotInterested.wrappingAdd(suppressed.notInterested, ordering: .relaxed) }
            if suppressed.noHandler > 0 { tally.suppressedNoHandler.wrappingAdd(suppressed.noHandler, ordering: .relaxed) }
        }
    }

    private func sum(_ counter: (RecordTally) -> Int) -> Int { tallies.all.reduce(0) { $0 + counter($1) } }

    /// A plain-value copy for the stats endpoint and tests.
    public struct Snapshot: Hashable, Sendable {
        public var connectionsCurrent, connectionsPeak, connectionsAccepted, connectionsRefused: Int
        public var controlRequests, controlErrors, requestTimeouts: Int
        public var servicesCurrent, servicesOpened, servicesClosed: Int
        public var datagrams, rtpConnections, rtpBytes, emptyWakeups: Int
        public var batches, dispatchesRan, recordsSeen: Int
        public var suppressed: [SuppressionReason: Int]
    }

    public var snapshot: Snapshot {
        var byReason: [SuppressionReason: Int] = [:]
        for reason in SuppressionReason.allCases {
            byReason[reason] = sum { $0.withSuppressed(reason) { $0.load(ordering: .relaxed) } }
        }
        return Snapshot(
            connectionsCurrent: connectionsCurrent.load(ordering: .relaxed),
            connectionsPeak: connectionsPeak.load(ordering: .relaxed),
            connectionsAccepted: connectionsAccepted.load(ordering: .relaxed),
            connectionsRefused: connectionsRefused.load(ordering: .relaxed),
            controlRequests: controlRequests.load(ordering: .relaxed),
            controlErrors: controlErrors.load(ordering: .relaxed),
            requestTimeouts: requestTimeouts.load(ordering: .relaxed),
            servicesCurrent: servicesCurrent.load(ordering: .relaxed),
            servicesOpened: servicesOpened.load(ordering: .relaxed),
            servicesClosed: servicesClosed.load(ordering: .relaxed),
            datagrams: datagrams.load(ordering: .relaxed),
            rtpConnections: rtpConnections.load(ordering: .relaxed),
            rtpBytes: rtpBytes.load(ordering: .relaxed),
            emptyWakeups: emptyWakeups.load(ordering: .relaxed),
            batches: sum { $0.batches.load(ordering: .relaxed) },
            dispatchesRan: sum { $0.dispatchesRan.load(ordering: .relaxed) },
            recordsSeen: sum { $0.records.load(ordering: .relaxed) },
            suppressed: byReason)
    }
}

/// One poller's share of the record counters (`DaemonStats.observe`). A class of
/// its own, so each poller's counters sit in their own allocation.
final class RecordTally: Sendable {
    let records = Atomic<Int>(0)
    let batches = Atomic<Int>(0)
    let dispatchesRan = Atomic<Int>(0)
    // One counter per `SuppressionReason` (Atomic is not copyable, so no array).
    let suppressedReplaced = Atomic<Int>(0)
    let suppressedGone = Atomic<Int>(0)
    let suppressedNotInterested = Atomic<Int>(0)
    let suppressedNoHandler = Atomic<Int>(0)

    /// The counter of `reason`, the one place a reason maps to its counter.
    @inline(__always)
    func withSuppressed<R>(_ reason: SuppressionReason, _ body: (borrowing Atomic<Int>) -> R) -> R {
        switch reason {
        case .registrationReplaced: body(suppressedReplaced)
        case .registrationGone: body(suppressedGone)
        case .notInterested: body(suppressedNotInterested)
        case .noHandler: body(suppressedNoHandler)
        }
    }

    // Pads the object past a 64-byte cache line, so two tallies never share one.
    private let padding: (Int, Int, Int, Int, Int, Int, Int, Int) = (0, 0, 0, 0, 0, 0, 0, 0)
}
