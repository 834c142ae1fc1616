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
            try daemon.start()
        } catch {
            try? daemon.stop()
            throw error
        }
        // Returns on graceful shutdown; throws CancellationError if the group is
        // cancelled instead. Either way the daemon is stopped cleanly.
        try? await gracefulShutdown()
        try daemon.stop()
    }
}
