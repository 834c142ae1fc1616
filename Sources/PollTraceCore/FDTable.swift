/// A dispatch seen during replay: the handler that was running when some other
/// record was made on its poller's thread. This is how a finding can say *which*
/// handler closed an fd or opened and registered its replacement.
public struct DispatchRef: Hashable, Sendable {
    public var seq: SequenceNumber
    public var timeNs: UInt64
    public var poller: PollerID
    public var source: DispatchSource
    /// The registration (or timer/task id) whose handler ran; 0 when suppressed.
    public var registrationID: RegistrationID
    /// The handler's label, or "timer"/"task"/"suppressed" when there is none.
    public var handlerLabel: String
    public init(seq: SequenceNumber, timeNs: UInt64, poller: PollerID, source: DispatchSource,
                registrationID: RegistrationID, handlerLabel: String) {
        self.seq = seq; self.timeNs = timeNs; self.poller = poller; self.source = source
        self.registrationID = registrationID; self.handlerLabel = handlerLabel
    }
}

/// One open fd of the simulated process.
public struct OpenFD: Hashable, Sendable {
    public var fd: Int32
    public var openedSeq: SequenceNumber
    /// nil when the fd was never seen opened (it predates the trace, or its record was
    /// lost in a gap) and the replayer assumed it open.
    public var origin: FDOrigin?
    /// The dispatch whose handler created it, if a handler did.
    public var openedBy: DispatchRef?
}

/// The simulated process-wide fd table.
///
/// fd numbers are process-wide, so there is one table however many pollers there
/// are. Closed fds are removed at once. The table is indexed by fd number (`FDMap`),
/// so memory follows the highest number open at once, which the kernel's
/// lowest-free-number rule keeps close to the peak count of open fds, never the
/// length of the trace.
public struct FDTable: Sendable {
    private var open = FDMap<OpenFD>()
    /// How many times each number was handed out again after a close (for stats).
    public private(set) var reuseCount: UInt64 = 0
    private var everClosed = FDSet()

    public init() {}

    public var openCount: Int { open.count }

    public func lookup(_ fd: Int32) -> OpenFD? { open[fd] }

    /// Records `fd` as open. Returns the entry it replaced when the number was already
    /// open (an inconsistency the caller reports).
    @discardableResult
    public mutating func opened(_ entry: OpenFD) -> OpenFD? {
        if everClosed.contains(entry.fd) { reuseCount += 1 }
        return open.updateValue(entry, forKey: entry.fd)
    }

    /// Removes `fd`. Returns what was open, or nil when the number was not open.
    @discardableResult
    public mutating func closed(_ fd: Int32) -> OpenFD? {
        everClosed.insert(fd)
        return open.removeValue(forKey: fd)
    }
}
