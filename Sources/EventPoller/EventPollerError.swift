/// Misuse of a poller that is caught at run time. These are thrown, never trapped:
/// a server built on the poller should survive a caller's mistake.
public enum EventPollerError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The poller was closed; it accepts no more fds, tasks or timers.
    case closed(poller: String)
    /// `run`, `runOnce` or `start` while the loop is already running.
    case alreadyRunning(poller: String)
    /// `close` while the loop is still running; `stop` and `join` it first.
    case stillRunning(poller: String)
    /// `join` on the loop's own thread, which would wait for itself forever.
    case joinFromLoopThread(poller: String)
    /// The registration is not the fd's current one on this poller: it was
    /// unregistered or closed already. The fd number may belong to someone else now,
    /// so the call is refused instead of touching that fd.
    case notRegistered(Registration)

    public var description: String {
        switch self {
        case .closed(let poller): "poller '\(poller)' is closed"
        case .alreadyRunning(let poller): "poller '\(poller)' is already running"
        case .stillRunning(let poller): "poller '\(poller)' is still running; stop and join it before closing"
        case .joinFromLoopThread(let poller): "join called on poller '\(poller)''s own loop thread"
        case .notRegistered(let registration): "\(registration) is no longer registered"
        }
    }
}
