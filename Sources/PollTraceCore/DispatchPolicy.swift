/// How a loop picks the handler for an event it harvested earlier in the batch.
public enum DispatchPolicy: String, CaseIterable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// Look the handler up by fd number when the event is dispatched. This is the
    /// seed's bug, kept so that it can be reproduced on purpose: a handler earlier in
    /// the batch can close the fd and let its number be reused, and the stale event
    /// then reaches the new fd's handler.
    case naive
    /// Capture every handler at harvest, before any runs (what a `select` loop does).
    /// Never misroutes, but still runs a handler whose fd was closed meanwhile.
    case snapshot
    /// The fix: `epoll_data` carries the registration id beside the fd, and an event
    /// whose registration is no longer the fd's current one is dropped.
    case guarded

    /// The numeric code the schema stores.
    public var code: Int {
        switch self {
        case .naive: 1
        case .snapshot: 2
        case .guarded: 3
        }
    }

    public init?(code: Int) {
        guard let policy = Self.allCases.first(where: { $0.code == code }) else { return nil }
        self = policy
    }

    public var description: String { rawValue }
}
