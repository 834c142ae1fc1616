/// What replay concluded about one dispatch or event.
///
/// The definitions (DESIGN.md, "Replay"); "harvested for" is the registration that
/// was the fd's current, live registration on the poller when the batch was
/// harvested and whose `epoll_data` word the event carries:
/// - `correct`: the handler that ran is the one harvested for, still live; or a
///   non-guard suppression of an event the live registration no longer asks for.
/// - `misrouted`: a handler ran for a registration other than the one harvested
///   for (normally a newer registration of the same fd number). The seed's bug.
/// - `deadRegistration`: the harvested-for handler ran, but its registration was
///   closed or unregistered after the harvest (the select-style hazard); or an
///   orphan event was run by a registration that had already ended.
/// - `justifiedSuppression`: no handler ran, and the event was stale (harvested
///   for nothing live, or its registration ended or was replaced since harvest).
/// - `lostEvent`: no handler ran, but the event was not stale.
/// - `orphanEvent`: at harvest, the fd had no live registration on the poller, or
///   the event's `epoll_data` does not name the one it had.
/// - `spin`: one registration ran in `spinThreshold` consecutive batches of its
///   poller with the same delivered mask, with no sign of work (an fd record made
///   by its dispatch) in any but the last (the seed's "dead loop").
public enum FindingKind: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    case correct
    case misrouted
    case deadRegistration = "dead_registration"
    case justifiedSuppression = "justified_suppression"
    case lostEvent = "lost_event"
    case orphanEvent = "orphan_event"
    case spin

    /// A problem in the traced loop. `correct` and `justifiedSuppression` are not.
    public var isProblem: Bool {
        switch self {
        case .correct, .justifiedSuppression: false
        case .misrouted, .deadRegistration, .lostEvent, .orphanEvent, .spin: true
        }
    }

    /// A stale dispatch: a handler ran that should not have.
    public var isStaleDispatch: Bool { self == .misrouted || self == .deadRegistration }

    public var description: String { rawValue }

    /// Its place in `allCases`, for counting in an array instead of a dictionary.
    var ordinal: Int {
        switch self {
        case .correct: 0
        case .misrouted: 1
        case .deadRegistration: 2
        case .justifiedSuppression: 3
        case .lostEvent: 4
        case .orphanEvent: 5
        case .spin: 6
        }
    }

    /// Exact counts per kind, kept in a fixed array (replay adds one per dispatch).
    struct Counts: Sendable {
        private var byOrdinal = [UInt64](repeating: 0, count: FindingKind.allCases.count)

        mutating func add(_ kind: FindingKind) { byOrdinal[kind.ordinal] += 1 }

        /// The kinds with a count above zero.
        var dictionary: [FindingKind: UInt64] {
            var all: [FindingKind: UInt64] = [:]
            for kind in FindingKind.allCases where byOrdinal[kind.ordinal] > 0 { all[kind] = byOrdinal[kind.ordinal] }
            return all
        }
    }
}

/// Where a finding's batch sits in the trace.
public struct BatchRef: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var batchNumber: UInt64
}

/// One finding, with the interleaving that caused it.
public struct Finding: Hashable, Sendable {
    public var kind: FindingKind
    /// The record that shows it: the dispatch (misrouted, dead, suppressions, spin) or
    /// the batch (orphan).
    public var seq: SequenceNumber
    public var poller: PollerID
    public var batch: BatchRef
    public var eventIndex: UInt32
    public var event: HarvestedEvent
    /// The registration the event was harvested for; nil for an orphan.
    public var harvestedFor: RegistrationRecord?
    /// The registration whose handler ran; nil when suppressed.
    public var ran: RegistrationRecord?
    /// The dispatch record (nil for an orphan found at harvest).
    public var dispatch: Dispatch?
    /// For a spin: the first batch of the run and how many consecutive batches it spans.
    public var spinFirstBatch: BatchRef?
    public var spinLength: Int

    public init(kind: FindingKind, seq: SequenceNumber, poller: PollerID, batch: BatchRef, eventIndex: UInt32,
                event: HarvestedEvent, harvestedFor: RegistrationRecord?, ran: RegistrationRecord?,
                dispatch: Dispatch?, spinFirstBatch: BatchRef? = nil, spinLength: Int = 0) {
        self.kind = kind; self.seq = seq; self.poller = poller; self.batch = batch; self.eventIndex = eventIndex
        self.event = event; self.harvestedFor = harvestedFor; self.ran = ran; self.dispatch = dispatch
        self.spinFirstBatch = spinFirstBatch; self.spinLength = spinLength
    }
}

/// A record that contradicts what came before it. Replay reports it and goes on.
public struct Inconsistency: Hashable, Sendable {
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        case duplicateSequence = "duplicate_sequence"
        case sequenceOutOfOrder = "sequence_out_of_order"
        case unknownBatch = "unknown_batch"
        case eventIndexOutOfRange = "event_index_out_of_range"
        case eventDispatchedTwice = "event_dispatched_twice"
        case openOfOpenFD = "open_of_open_fd"
        case closeOfUnknownFD = "close_of_unknown_fd"
        case registerOfUnknownFD = "register_of_unknown_fd"
        case duplicateRegistrationID = "duplicate_registration_id"
        case fdAlreadyRegistered = "fd_already_registered"
        case unknownRegistration = "unknown_registration"
        case registrationFDMismatch = "registration_fd_mismatch"
    }
    public var seq: SequenceNumber
    public var kind: Kind
    public var message: String
}

/// Records lost in the trace, and how replay treated them.
public struct GapReport: Hashable, Sendable {
    /// The gap record's own seq, or 0 for a hole in the sequence with no gap record.
    public var seq: SequenceNumber
    public var firstLost: SequenceNumber
    public var lastLost: SequenceNumber
    public var lostCount: UInt64
    public var fromTimeNs: UInt64
    public var toTimeNs: UInt64
    /// True for a hole in the sequence numbers that no gap record explains.
    public var unannounced: Bool
}
