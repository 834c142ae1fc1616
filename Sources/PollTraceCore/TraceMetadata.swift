/// Facts about the traced process that are not records.
public struct TraceMetadata: Hashable, Sendable {
    /// The schema version this build writes. Readers refuse newer versions.
    public static let currentSchemaVersion = 7

    public var schemaVersion: Int
    public var pid: Int32
    public var program: String
    public var host: String
    /// Wall-clock start, ns since the Unix epoch; `startMonotonicNs` is the same
    /// instant on the monotonic clock every record's `timeNs` uses.
    public var startWallClockNs: UInt64
    public var startMonotonicNs: UInt64
    public var pollers: [PollerInfo]

    public init(schemaVersion: Int = TraceMetadata.currentSchemaVersion, pid: Int32, program: String, host: String,
                startWallClockNs: UInt64, startMonotonicNs: UInt64, pollers: [PollerInfo] = []) {
        self.schemaVersion = schemaVersion; self.pid = pid; self.program = program; self.host = host
        self.startWallClockNs = startWallClockNs; self.startMonotonicNs = startMonotonicNs; self.pollers = pollers
    }

    /// Each poller's dispatch policy where it is known (the first row wins if a
    /// poller appears twice); imported pollers are left out.
    public var knownPolicies: [PollerID: DispatchPolicy] {
        var policies: [PollerID: DispatchPolicy] = [:]
        for poller in pollers {
            if let policy = poller.policy, policies[poller.poller] == nil { policies[poller.poller] = policy }
        }
        return policies
    }
}

/// One event loop of the traced process.
public struct PollerInfo: Hashable, Sendable {
    public var poller: PollerID
    /// "epoll" for the EventPoller; "strace" for imported logs.
    public var backend: String
    /// How this loop picks a handler; nil when nobody knows: an imported strace log
    /// shows the syscalls, not the loop's dispatch code.
    public var policy: DispatchPolicy?
    /// The epoll fd, when known.
    public var epollFD: Int32
    public var label: String
    /// The policy as the `poller_info` view and the reports spell it: `unknown` when nil.
    public var policyName: String { policy?.rawValue ?? "unknown" }

    /// `backend` of a poller imported from an strace log.
    public static let straceBackend = "strace"

    public init(poller: PollerID, backend: String, policy: DispatchPolicy?, epollFD: Int32 = -1, label: String = "") {
        self.poller = poller; self.backend = backend; self.policy = policy; self.epollFD = epollFD; self.label = label
    }
}
