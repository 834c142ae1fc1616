import PollTraceCore
import ServiceLifecycle

/// The daemon as a swift-service-lifecycle `Service`: `polltraced` runs it in a
/// `ServiceGroup` that turns SIGTERM and SIGINT into a graceful shutdown, which
/// stops the loops, closes every fd and finishes the trace before the process exits.
///
/// The pollers are threads of their own (an epoll loop blocks in `epoll_wait`, so it
/// cannot live on the cooperative pool); this service only starts them and waits,
/// off the loops, for the shutdown signal.
public struct DaemonService: Service {
    public let daemon: PollTraceDaemon

    public init(daemon: PollTraceDaemon) { self.daemon = daemon }

    public func run() async throws {
        do {
            try await daemon.startWithoutBlocking()
        } catch {
            try? await daemon.stopWithoutBlocking()
            throw error
        }
        // Returns on graceful shutdown; throws CancellationError if the group is
        // cancelled instead. Either way the daemon is stopped cleanly.
        try? await gracefulShutdown()
        try await daemon.stopWithoutBlocking()
    }
}

extension PollTraceDaemon {
    /// `start()` for async code. Starting waits for each poller's thread to enter
    /// its loop; a thread of Swift's cooperative pool must not block (the pool has
    /// one per core, and every task queued behind it would wait), so the start runs
    /// on a thread of its own while the caller is suspended.
    public func startWithoutBlocking() async throws {
        try await Self.onThreadOfItsOwn(name: "daemon-start") { [self] in try start() }
    }

    /// `stop()` for async code. Stopping waits for the control loop to close
    /// everything, joins every poller's thread and waits for the trace's last
    /// commit, so, like `startWithoutBlocking`, it runs on a thread of its own.
    public func stopWithoutBlocking() async throws {
        try await Self.onThreadOfItsOwn(name: "daemon-stop") { [self] in try stop() }
    }

    /// Runs `body` on a new thread and resumes the caller with its outcome.
    private static func onThreadOfItsOwn(name: String, _ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            do {
                let thread = try NamedThread(name: name) { continuation.resume(with: Result { try body() }) }
                thread.detach()
            } catch {
                continuation.resume(throwing: error)
            }
        }
    }
}
