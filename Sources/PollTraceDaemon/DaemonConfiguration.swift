import PollTraceCore
import PollTraceStore

/// Everything `polltraced`'s flags set. Defaults are what the daemon runs with when
/// given no flags, except that tests pass port 0 to get a free port.
public struct DaemonConfiguration: Sendable {
    /// The control API's address. Loopback unless the operator asks for another one
    /// explicitly (`--address`); services bind to the same address.
    public var address: String = "127.0.0.1"
    /// 0 picks a free port (see `PollTraceDaemon.controlPort`).
    public var controlPort: UInt16 = 8086
    /// Event loop threads. Poller 1 runs the control API and the services; accepted
    /// RTP connections are spread over all pollers round-robin.
    public var pollers: Int = 1
    public var dispatch: DispatchPolicy = .guarded
    public var trace: TraceSettings? = TraceSettings()
    /// Live connections (control and RTP together) past which new ones are refused.
    public var maxConnections: Int = 1024
    /// A control client must send a whole request within this long of its first
    /// byte, however it trickles the bytes in; otherwise it gets 408 and is closed.
    public var requestTimeoutMs: Int = 5_000
    /// Live control connections from one client address past which new ones from it
    /// are refused (503), so one address cannot take every slot.
    public var maxConnectionsPerPeer: Int = 128
    /// When set, every control request must carry `Authorization: Bearer <token>`
    /// (401 otherwise). polltraced requires one for any address but loopback.
    public var accessToken: AccessToken?
    /// A kept-alive control connection with no request in progress is closed after this long.
    public var idleTimeoutMs: Int = 30_000
    public var httpLimits = HTTPParserLimits()
    /// How many services may be open at once (each holds two fds).
    public var maxServices: Int = 4096
    /// The `epoll_wait` batch size.
    public var maxEventsPerBatch: Int32 = 256

    public init() {}
}

/// Where and how the daemon records its loop. `nil` in the configuration turns
/// recording off (the baseline of the tracing on/off benchmark).
public struct TraceSettings: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// The loop waits for the writer rather than lose a record (for reproducing).
        case lossless
        /// The loop never waits; lost records become a gap record (for production).
        case drop
    }

    /// What a finished file holds. The v7 tables answer SQL at once but take about
    /// 100 bytes a record; the recording form the writer appends takes about 18, and
    /// analyze, verify, stats, timeline and report read it as it is. `polltrace
    /// finalize` makes the v7 tables of a kept recording form when SQL is wanted, so
    /// a daemon that records far more than anyone will query can keep the small form.
    public enum FileForm: String, Sendable, CaseIterable {
        /// The v7 tables, made by the writer when it finishes a file (off the loop).
        case tables
        /// The compact recording form, left as the writer appended it.
        case recording
    }

    public var directory: String = "traces"
    public var mode: Mode = .lossless
    public var fileForm: FileForm = .tables
    /// File name prefix; files are `<prefix>-<UTC time>-<n>.sqlite`.
    public var prefix: String = "polltraced"
    public var rotation = RotationPolicy()
    /// The trace writer's scheduling class, `normal` unless asked: what `idle` and
    /// `adaptive` gain and cost is at `WriterPriority`.
    public var writerPriority: WriterPriority

    public init(directory: String = "traces", mode: Mode = .lossless, prefix: String = "polltraced",
                rotation: RotationPolicy = RotationPolicy(), writerPriority: WriterPriority = .normal,
                fileForm: FileForm = .tables) {
        self.directory = directory; self.mode = mode; self.prefix = prefix; self.rotation = rotation
        self.writerPriority = writerPriority; self.fileForm = fileForm
    }
}

/// When to start a new trace file, and how many to keep.
public struct RotationPolicy: Hashable, Sendable {
    /// Rotate when the current file reaches this size; nil never rotates by size.
    public var maxBytes: Int64?
    /// Rotate when the current file is this old; nil never rotates by age.
    public var maxAgeSeconds: Double?
    /// Completed files kept besides the current one; older ones are deleted. nil keeps all.
    public var retain: Int?

    public init(maxBytes: Int64? = nil, maxAgeSeconds: Double? = nil, retain: Int? = nil) {
        self.maxBytes = maxBytes; self.maxAgeSeconds = maxAgeSeconds; self.retain = retain
    }

    /// Whether a file of `bytes` opened `ageSeconds` ago should be rotated now.
    public func isDue(bytes: Int64, ageSeconds: Double) -> Bool {
        if let maxBytes, bytes >= maxBytes { return true }
        if let maxAgeSeconds, ageSeconds >= maxAgeSeconds { return true }
        return false
    }

    /// Which of the completed files (oldest first) retention deletes.
    public func filesToDelete(completedOldestFirst files: [String]) -> [String] {
        guard let retain, files.count > retain else { return [] }
        return Array(files.prefix(files.count - max(retain, 0)))
    }
}
