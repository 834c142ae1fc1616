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
    // Dispatch verdicts, counted as the records pass (only while tracing).
    let dispatchesRan = Atomic<Int>(0)
    // One counter per `SuppressionReason` (Atomic is not copyable, so no array).
    let suppressedReplaced = Atomic<Int>(0)
    let suppressedGone = Atomic<Int>(0)
    let suppressedNotInterested = Atomic<Int>(0)
    let suppressedNoHandler = Atomic<Int>(0)

    private func suppressedCounter(_ reason: SuppressionReason) -> Int {
        switch reason {
        case .registrationReplaced: suppressedReplaced.load(ordering: .relaxed)
        case .registrationGone: suppressedGone.load(ordering: .relaxed)
        case .notInterested: suppressedNotInterested.load(ordering: .relaxed)
        case .noHandler: suppressedNoHandler.load(ordering: .relaxed)
        }
    }
    let batches = Atomic<Int>(0)
    let recordsSeen = Atomic<Int>(0)

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
    func observe(_ record: TraceRecord) {
        recordsSeen.wrappingAdd(1, ordering: .relaxed)
        switch record {
        case .batch:
            batches.wrappingAdd(1, ordering: .relaxed)
        case .dispatch(let dispatch) where dispatch.source == .event:
            if let reason = dispatch.suppression {
                switch reason {
                case .registrationReplaced: suppressedReplaced.wrappingAdd(1, ordering: .relaxed)
                case .registrationGone: suppressedGone.wrappingAdd(1, ordering: .relaxed)
                case .notInterested: suppressedNotInterested.wrappingAdd(1, ordering: .relaxed)
                case .noHandler: suppressedNoHandler.wrappingAdd(1, ordering: .relaxed)
                }
            } else {
                dispatchesRan.wrappingAdd(1, ordering: .relaxed)
            }
        default:
            break
        }
    }

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
            byReason[reason] = suppressedCounter(reason)
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
            batches: batches.load(ordering: .relaxed),
            dispatchesRan: dispatchesRan.load(ordering: .relaxed),
            recordsSeen: recordsSeen.load(ordering: .relaxed),
            suppressed: byReason)
    }
}
