import PollTraceCore

/// One registration of one fd with one poller. Its `registrationID` is unique in
/// the process and never reused for another fd, so it names this registration even
/// after the fd number has been closed and handed out again. The `guarded` policy
/// packs it into `epoll_data` to drop events harvested for an earlier registration
/// of the same number; `SeedReproductionTests.testSeed_guarded_suppressesTheStaleEvent`
/// proves it with real sockets.
public struct Registration: Hashable, Sendable, CustomStringConvertible {
    public let registrationID: RegistrationID
    public let fd: Int32
    public let poller: PollerID
    /// The handler's human name, as recorded ("rtp-udp:40000", "control-api").
    public let label: String

    public var description: String { "registration \(registrationID) (fd \(fd), \(label), poller \(poller))" }
}

/// What a handler is told besides the ready bits: the poller it runs on and the
/// registration whose handler this is. Under the `naive` policy that registration
/// may not be the one the event was harvested for; that is the bug on purpose.
public struct HandlerContext {
    public let poller: EventPoller
    public let registration: Registration
}

/// Runs on the poller's thread when an event is dispatched to its registration. A
/// throw is logged and recorded (`Dispatch.handlerThrew`) and the loop goes on.
public typealias EventHandler = (_ events: IOEvents, _ context: HandlerContext) throws -> Void

/// A timer as its handler and `cancel` see it.
public struct TimerHandle: Hashable, Sendable {
    /// Recorded as the timer dispatch's `ranRegistrationID`; counts from 1 per poller.
    public let timerID: UInt32
    public let poller: PollerID
    public let label: String
}

/// Runs on the poller's thread when a timer is due.
public typealias TimerHandler = (_ timer: TimerHandle) throws -> Void

/// Hands out registration ids for every poller of the process, so an id names one
/// registration process-wide (the trace's pollers share one id space).
enum RegistrationIDs {
    private static let last = AtomicCounter()

    static func next() -> RegistrationID {
        // 0 means "none" in the trace, so it is skipped when the counter wraps.
        while true {
            let id = last.next()
            if id != 0 { return id }
        }
    }
}
