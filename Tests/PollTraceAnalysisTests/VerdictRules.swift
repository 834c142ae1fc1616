import PollTraceCore

/// The oracle's verdict on one event dispatch, stated once as a table.
///
/// The simulated process knows, from its simulated kernel, which registration each
/// event was harvested for (not from the records, as the analyzer must work it out).
/// At dispatch it looks at two things: where that registration stands now, and what
/// the loop did. The verdict depends on nothing else; in particular not on the
/// policy, which only decides what the loop does (through the real `Dispatcher`).
/// That is what lets the analyzer judge loops whose policy it does not know.
enum VerdictRules {
    /// Where the registration the event was harvested for stands at dispatch.
    enum Harvested: Hashable, CustomStringConvertible {
        /// Still live (so still its fd's current registration on its poller).
        case live
        /// Unregistered, or its fd closed, since the harvest.
        case ended
        /// None: the kernel's entry outlived its registration (the fd was closed
        /// while a dup kept the file open), so the event belongs to no registration.
        case orphan

        var description: String {
            switch self {
            case .live: "live"
            case .ended: "ended"
            case .orphan: "orphan"
            }
        }
    }

    /// What the loop did with the event.
    enum LoopDid: Hashable, CustomStringConvertible {
        /// Ran the handler of the registration the event was harvested for.
        case ranHarvested
        /// Ran another registration's handler, one still live.
        case ranOtherLive
        /// Ran another registration's handler, one that has ended.
        case ranOtherEnded
        /// Suppressed it as `notInterested`, and rightly: the fd's current
        /// registration wants none of its deliverable bits (a modify narrowed it).
        case suppressedNothingWanted
        /// Suppressed it for any other reason.
        case suppressed

        /// The case's name, for lists of cases.
        var name: String {
            switch self {
            case .ranHarvested: "ranHarvested"
            case .ranOtherLive: "ranOtherLive"
            case .ranOtherEnded: "ranOtherEnded"
            case .suppressedNothingWanted: "suppressedNothingWanted"
            case .suppressed: "suppressed"
            }
        }

        var description: String {
            switch self {
            case .ranHarvested: "ran the harvested registration"
            case .ranOtherLive: "ran another, live registration"
            case .ranOtherEnded: "ran another, ended registration"
            case .suppressedNothingWanted: "suppressed, nothing wanted"
            case .suppressed: "suppressed"
            }
        }
    }

    /// Every (harvested, loop did) pair that can happen, and its verdict. An orphan
    /// cannot have run "the harvested registration": there is none.
    static let table: [(harvested: Harvested, loopDid: LoopDid, verdict: FindingKind)] = [
        (.live,   .ranHarvested,            .correct),
        (.live,   .ranOtherLive,            .misrouted),
        (.live,   .ranOtherEnded,           .misrouted),
        (.live,   .suppressedNothingWanted, .correct),
        (.live,   .suppressed,              .lostEvent),

        (.ended,  .ranHarvested,            .deadRegistration),
        (.ended,  .ranOtherLive,            .misrouted),
        (.ended,  .ranOtherEnded,           .misrouted),
        (.ended,  .suppressedNothingWanted, .justifiedSuppression),
        (.ended,  .suppressed,              .justifiedSuppression),

        (.orphan, .ranOtherLive,            .misrouted),
        (.orphan, .ranOtherEnded,           .deadRegistration),   // a loop's stale entry ran the dead handler
        (.orphan, .suppressedNothingWanted, .justifiedSuppression),
        (.orphan, .suppressed,              .justifiedSuppression),
    ]

    /// The row's index and verdict; nil when the table states no verdict for the
    /// pair (the oracle then reports a case the table must state).
    static func verdict(_ harvested: Harvested, _ loopDid: LoopDid) -> (row: Int, verdict: FindingKind)? {
        table.firstIndex { $0.harvested == harvested && $0.loopDid == loopDid }.map { ($0, table[$0].verdict) }
    }
}
