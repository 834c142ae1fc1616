import EventPoller
import Foundation
import Logging
import PollTraceCore
import PollTraceStore

/// polltraced as a library: a control API and RTP-style services on EventPoller,
/// recording its own loop to a trace.
///
/// Lifecycle: `init` opens the pollers and the trace; `setUp` opens the control
/// listener on the control poller; `start` runs every poller on its own thread;
/// `stop` stops the loops, closes every fd through the pollers (so the trace shows
/// them closed) and finishes the trace. Tests may call `setUp` and then drive the
/// control poller with `runOnce` on their own thread instead of `start`.
/// Whatever happened, call `stop()` before letting go of a daemon, also after a
/// failed `setUp` or `start`: it closes the pollers' fds and finishes the trace
/// (its pollers assert that they were closed).
public final class PollTraceDaemon: @unchecked Sendable {
    // Immutable after init: safe from any thread.
    public let configuration: DaemonConfiguration
    public let stats: DaemonStats
    public let recorder: DaemonRecorder?
    public let logger: Logger
    let group: PollerGroup
    /// `GET /metrics`. Loop-confined to the control poller.
    let metrics: DaemonMetrics
    private let readBuffers: [PollerID: ReadBuffer]

    // Loop-confined to the control poller (or to the one thread driving it with runOnce).
    private(set) var controlAPI: ControlAPI!
    private var controlListener: Registration?
    private var controlConnections: [RegistrationID: ControlConnection] = [:]
    private var sweepTimer: TimerHandle?
    private var peerCounts: PeerConnectionCount

    /// Set by `setUp`: the control API's port (the one asked for, or the kernel's pick).
    public private(set) var controlPort: UInt16 = 0
    private var state = State.created

    private enum State { case created, setUp, running, stopped }

    public init(configuration: DaemonConfiguration, logger: Logger = Logger(label: "polltraced")) throws {
        precondition(configuration.pollers >= 1, "the daemon needs at least one poller")
        self.configuration = configuration
        self.logger = logger
        let stats = DaemonStats(policy: configuration.dispatch)
        self.stats = stats
        let recorder = try configuration.trace.map { try DaemonRecorder(settings: $0, stats: stats, logger: logger) }
        self.recorder = recorder
        metrics = DaemonMetrics(stats: stats, recorder: recorder, policy: configuration.dispatch)
        do {
            group = try PollerGroup(count: configuration.pollers, policy: configuration.dispatch,
                                    recorder: recorder, labelPrefix: "polltraced")
        } catch {
            try? recorder?.close()
            throw error
        }
        var buffers: [PollerID: ReadBuffer] = [:]
        for poller in group.pollers { buffers[poller.id] = ReadBuffer() }
        readBuffers = buffers
        peerCounts = PeerConnectionCount(limit: configuration.maxConnectionsPerPeer)
        controlAPI = ControlAPI(daemon: self)
    }

    /// The poller that runs the control API and every service.
    public var controlPoller: EventPoller { group.pollers[0] }
    public var pollers: [EventPoller] { group.pollers }

    func readBuffer(for poller: EventPoller) -> ReadBuffer { readBuffers[poller.id]! }

    /// Opens the control listener and starts the recorder's watch (write failures,
    /// rotation). Call once, before `start`
    /// (or before driving the control poller by hand).
    public func setUp() throws {
        precondition(state == .created, "setUp called twice")
        let poller = controlPoller
        let listenerFD: Int32
        do {
            listenerFD = try poller.makeTCPListener(host: configuration.address, port: configuration.controlPort, backlog: 1024)
        } catch {
            throw DaemonError.listen(address: configuration.address, port: configuration.controlPort,
                                     reason: DaemonError.reason(error))
        }
        do {
            controlPort = try Linux.Socket.localPort(listenerFD)
            controlListener = try poller.register(fd: listenerFD, interest: .readable, label: "control-listener") { [unowned self] _, context in
                acceptControlConnections(context: context)
            }
        } catch {
            try? poller.close(fd: listenerFD)
            throw error
        }
        try recorder?.startRotationWatch()
        state = .setUp
        logger.info("polltraced listening", metadata: [
            "address": "\(configuration.address)", "port": "\(controlPort)",
            "dispatch": "\(configuration.dispatch)", "pollers": "\(configuration.pollers)",
            "trace": "\(recorder?.currentPath ?? "off")",
        ])
    }

    /// Runs every poller on its own thread.
    public func start() throws {
        if state == .created { try setUp() }
        precondition(state == .setUp, "start called twice or after stop")
        try group.start()
        state = .running
    }

    /// Stops the loops, closes every service and connection, finishes the trace.
    /// Safe to call more than once; the first call does the work.
    public func stop() throws {
        guard state != .stopped else { return }
        let wasRunning = state == .running
        state = .stopped
        if wasRunning {
            // Close services and connections as a task on the control loop, so the
            // trace attributes the closes to the shutdown.
            _ = try? controlPoller.executeAndWait { [unowned self] in closeEverything() }
        } else {
            closeEverything()
        }
        var failure: (any Error)?
        do { try group.shutdown() } catch { failure = error }
        do { try recorder?.close() } catch { failure = failure ?? error }
        logger.info("polltraced stopped", metadata: ["trace": "\(recorder?.completedPaths.last ?? "off")"])
        if let failure { throw failure }
    }

    private func closeEverything() {
        if let sweepTimer { controlPoller.cancelTimer(sweepTimer) }
        controlAPI.closeAll()
        for connection in controlConnections.values { connection.close() }
        if let controlListener { try? controlPoller.close(controlListener) }
        controlListener = nil
    }

    // MARK: Control connections

    private func acceptControlConnections(context: HandlerContext) {
        var accepted = 0
        while accepted < 64 {
            let fd: Int32?
            do {
                fd = try context.poller.accept(listenerFD: context.registration.fd)
            } catch {
                logger.warning("accept on the control port failed: \(error)")
                break
            }
            guard let fd else { break }
            accepted += 1
            // 0 when the kernel cannot say: then all such connections share one count.
            let peer = ((try? Linux.Socket.peerIPv4(fd)) ?? nil) ?? 0
            guard peerCounts.admit(peer) else {
                stats.connectionsRefused.wrappingAdd(1, ordering: .relaxed)
                refuse(fd: fd, poller: context.poller, reason: "too many connections from \(PeerConnectionCount.describe(peer)) (limit \(configuration.maxConnectionsPerPeer) per address)")
                continue
            }
            guard stats.admitConnection(limit: configuration.maxConnections) else {
                peerCounts.release(peer)
                refuse(fd: fd, poller: context.poller, reason: "too many connections (limit \(configuration.maxConnections))")
                continue
            }
            do {
                let box = ConnectionBox()
                let registration = try context.poller.register(fd: fd, interest: .readable, label: "control-conn") { events, _ in
                    box.connection?.handle(events)
                }
                let connection = ControlConnection(registration: registration, daemon: self, peer: peer)
                box.connection = connection
                controlConnections[registration.registrationID] = connection
                armSweep(on: context.poller)
            } catch {
                logger.warning("registering a control connection failed: \(error)")
                try? context.poller.close(fd: fd)
                stats.connectionClosed()
                peerCounts.release(peer)
            }
        }
        if accepted == 0 { stats.emptyWakeups.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Past `maxConnections`: one best-effort 503 and close. The response fits in an
    /// empty socket buffer, so a single non-blocking send delivers it.
    private func refuse(fd: Int32, poller: EventPoller, reason: String) {
        let response = HTTPResponse.error(.serviceUnavailable, reason, closesConnection: true)
        _ = response.bytes.withUnsafeBytes { try? Linux.Socket.send(fd, $0) }
        try? Linux.Socket.shutdownWrite(fd)
        try? poller.close(fd: fd)
    }

    func controlConnectionClosed(_ connection: ControlConnection) {
        controlConnections.removeValue(forKey: connection.registration.registrationID)
        stats.connectionClosed()
        peerCounts.release(connection.peer)
    }

    /// The sweep timer runs only while a control connection is open: an idle daemon
    /// then has nothing on its loop, so it writes nothing to its trace. (Every timer
    /// firing is a dispatch the trace records; a permanent 100 ms sweep would cost an
    /// idle daemon about 20 records and 160 KiB of trace a second.)
    private func armSweep(on poller: EventPoller) {
        guard sweepTimer == nil else { return }
        sweepTimer = try? poller.scheduleTimer(after: .milliseconds(100), repeating: .milliseconds(100),
                                               label: "control-sweep") { [unowned self] _ in sweep() }
    }

    private func sweep() {
        let now = MonotonicClock.nowNs()
        for connection in Array(controlConnections.values) { connection.sweep(nowNs: now) }
        if controlConnections.isEmpty, let sweepTimer {
            controlPoller.cancelTimer(sweepTimer)
            self.sweepTimer = nil
        }
    }

    // MARK: Stats

    /// The `/api/stats` document.
    func statsDocument() -> [String: Any] {
        let snapshot = stats.snapshot
        var document: [String: Any] = [
            "dispatch_policy": configuration.dispatch.rawValue,
            "pollers": configuration.pollers,
            "connections": [
                "current": snapshot.connectionsCurrent, "peak": snapshot.connectionsPeak,
                "accepted": snapshot.connectionsAccepted, "refused": snapshot.connectionsRefused,
                "max": configuration.maxConnections,
            ],
            "control": [
                "requests": snapshot.controlRequests, "errors": snapshot.controlErrors,
                "timeouts": snapshot.requestTimeouts, "unauthorized": snapshot.unauthorized,
            ],
            "services": [
                "current": snapshot.servicesCurrent, "opened": snapshot.servicesOpened,
                "closed": snapshot.servicesClosed,
            ],
            "rtp": [
                "datagrams": snapshot.datagrams, "connections": snapshot.rtpConnections, "bytes": snapshot.rtpBytes,
            ],
            "empty_wakeups": snapshot.emptyWakeups,
        ]
        if let recorder {
            var suppressed: [String: Int] = [:]
            for (reason, count) in snapshot.suppressed { suppressed[reason.description] = count }
            document["dispatches"] = ["batches": snapshot.batches, "ran": snapshot.dispatchesRan, "suppressed": suppressed]
            let trace = recorder.statistics
            document["trace"] = [
                "path": recorder.currentPath ?? NSNull(), "mode": recorder.settings.mode.rawValue,
                "records_seen": snapshot.recordsSeen, "records_written": trace.recordsWritten,
                "records_dropped": trace.recordsDropped, "gaps": trace.gapsRecorded,
                "writer_cpu_ms": Double(trace.writerCPUNs) / 1e6,
                "writer_bytes_written": trace.writerBytesWritten,
                "last_error": trace.lastError ?? NSNull(),
                "writer_priority": trace.writerPriority.rawValue,
                "writer_priority_refused": trace.priorityRefused ?? NSNull(),
                "writer_promotions": trace.writerPromotions,
            ] as [String: Any]
        } else {
            document["dispatches"] = NSNull()
            document["trace"] = NSNull()
        }
        return document
    }
}

/// Lets a connection's handler refer to the connection made after registering.
private final class ConnectionBox {
    weak var connection: ControlConnection?
}
