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
    /// Control requests refused for a missing or wrong access token (401).
    let unauthorized = Atomic<Int>(0)
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
    /// Whether `observe(contentsOf:)` looks for stale dispatches (`StaleDispatchDetector`):
    /// only where the policy lets one happen. Under `guarded` there is none to find,
    /// and the loop's record path stays as it was.
    let detectsStaleDispatches: Bool

    public init(policy: DispatchPolicy = .guarded) {
        detectsStaleDispatches = policy != .guarded
    }

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

    /// Looks at a record on its way to the trace and counts batches and verdicts.
    func observe(_ record: borrowing TraceRecord) {
        var counts = RecordCounts()
        counts.count(record)
        tallies.with(Int(record.poller & 15)) { counts.add(to: $0) }
    }

    /// `observe` for one loop iteration's records (all from one poller): counted in
    /// locals, then one add per counter, instead of one or two atomic adds per record.
    func observe(contentsOf records: [TraceRecord]) {
        guard let first = records.first else { return }
        var counts = RecordCounts()
        if detectsStaleDispatches {
            var detector = StaleDispatchDetector()
            for record in records {
                counts.count(record)
                detector.observe(record)
            }
            counts.stale = detector.staleDispatches
        } else {
            for record in records { counts.count(record) }
        }
        tallies.with(Int(first.poller & 15)) { counts.add(to: $0) }
    }

    private func sum(_ counter: (RecordTally) -> Int) -> Int { tallies.all.reduce(0) { $0 + counter($1) } }

    /// A plain-value copy for the stats endpoint and tests.
    public struct Snapshot: Hashable, Sendable {
        public var connectionsCurrent, connectionsPeak, connectionsAccepted, connectionsRefused: Int
        public var controlRequests, controlErrors, requestTimeouts, unauthorized: Int
        public var servicesCurrent, servicesOpened, servicesClosed: Int
        public var datagrams, rtpConnections, rtpBytes, emptyWakeups: Int
        public var batches, dispatchesRan, recordsSeen: Int
        public var suppressed: [SuppressionReason: Int]
        /// Handlers run for an event whose registration ended after its harvest, as
        /// counted live (`StaleDispatchDetector`); always 0 under `guarded`.
        public var staleDispatches: Int
        /// Registrations made and ended (unregistered, or closed through the poller).
        public var registrationsMade, registrationsEnded: Int

        /// Event dispatches: one per harvested event, whether a handler ran or not.
        public var eventDispatches: Int { dispatchesRan + suppressed.values.reduce(0, +) }
        /// Registrations live now, on every poller.
        public var registrationsOpen: Int { registrationsMade - registrationsEnded }
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
            unauthorized: unauthorized.load(ordering: .relaxed),
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
            suppressed: byReason,
            staleDispatches: sum { $0.staleDispatches.load(ordering: .relaxed) },
            registrationsMade: sum { $0.registered.load(ordering: .relaxed) },
            registrationsEnded: sum { $0.unregistered.load(ordering: .relaxed) })
    }
}

/// What some records add to a poller's tally, counted in plain locals first.
private struct RecordCounts {
    var records = 0, batches = 0, ran = 0, registered = 0, unregistered = 0, stale = 0
    /// By `SuppressionReason.rawValue - 1` (raw values 1...4; a fifth reason needs a fifth slot).
    var suppressed = InlineArray<4, Int>(repeating: 0)

    mutating func count(_ record: borrowing TraceRecord) {
        records += 1
        switch record {
        case .batch:
            batches += 1
        case .registered:
            registered += 1
        case .unregistered:
            unregistered += 1
        case .dispatch(let dispatch) where dispatch.source == .event:
            if let reason = dispatch.suppression { suppressed[Int(reason.rawValue) - 1] += 1 } else { ran += 1 }
        default:
            break
        }
    }

    func add(to tally: RecordTally) {
        tally.records.wrappingAdd(records, ordering: .relaxed)
        if batches > 0 { tally.batches.wrappingAdd(batches, ordering: .relaxed) }
        if ran > 0 { tally.dispatchesRan.wrappingAdd(ran, ordering: .relaxed) }
        if registered > 0 { tally.registered.wrappingAdd(registered, ordering: .relaxed) }
        if unregistered > 0 { tally.unregistered.wrappingAdd(unregistered, ordering: .relaxed) }
        if stale > 0 { tally.staleDispatches.wrappingAdd(stale, ordering: .relaxed) }
        for reason in SuppressionReason.allCases {
            let count = suppressed[Int(reason.rawValue) - 1]
            if count > 0 { _ = tally.withSuppressed(reason) { $0.wrappingAdd(count, ordering: .relaxed) } }
        }
    }
}

/// One poller's share of the record counters (`DaemonStats.observe`). A class of
/// its own, so each poller's counters sit in their own allocation.
final class RecordTally: Sendable {
    let records = Atomic<Int>(0)
    let batches = Atomic<Int>(0)
    let dispatchesRan = Atomic<Int>(0)
    let registered = Atomic<Int>(0)
    let unregistered = Atomic<Int>(0)
    let staleDispatches = Atomic<Int>(0)
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
