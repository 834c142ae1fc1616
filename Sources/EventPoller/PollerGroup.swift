import PollTraceCore
import Synchronization

/// N pollers, one loop thread each (as media servers run one loop per core),
/// sharing one recorder and so one sequence: a close on one poller and the reuse of
/// its number on another order correctly in the trace.
public final class PollerGroup: Sendable {
    /// Poller `i` has id `firstID + i`.
    public let pollers: [EventPoller]
    private let nextIndex = Atomic<Int>(0)

    public init(count: Int, firstID: PollerID = 1, policy: DispatchPolicy = .guarded,
                recorder: (any TraceRecorder)? = nil, labelPrefix: String = "poller") throws {
        precondition(count > 0, "a PollerGroup needs at least one poller")
        var pollers: [EventPoller] = []
        do {
            for index in 0..<count {
                let id = firstID + PollerID(index)
                pollers.append(try EventPoller(id: id, policy: policy, recorder: recorder,
                                               label: "\(labelPrefix)-\(id)"))
            }
        } catch {
            for poller in pollers { try? poller.close() }
            throw error
        }
        self.pollers = pollers
    }

    /// Starts every poller's loop on its own thread.
    public func start() throws {
        for poller in pollers { try poller.start() }
    }

    /// The pollers in turn, for spreading new connections or services.
    public func next() -> EventPoller {
        let index = nextIndex.wrappingAdd(1, ordering: .relaxed).oldValue
        return pollers[(index % pollers.count + pollers.count) % pollers.count]
    }

    /// Stops every loop, waits for the threads, then closes the pollers in reverse
    /// order. Every poller is shut down even if one fails; the first error is thrown.
    public func shutdown() throws {
        for poller in pollers { poller.stop() }
        var firstError: (any Error)?
        for poller in pollers.reversed() {
            do {
                try poller.join()
                try poller.close()
            } catch {
                firstError = firstError ?? error
            }
        }
        if let firstError { throw firstError }
    }
}
