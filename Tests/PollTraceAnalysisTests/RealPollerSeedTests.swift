import EventPoller
import Glibc
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// The seed's interleaving with real sockets and real epoll, recorded by the real
/// `EventPoller` into a real trace file, then analyzed and verified from that file.
final class RealPollerSeedTests: XCTestCase {
    /// Builds one batch [control eventfd, TCP listener, UDP socket (writable)]: the
    /// control handler closes the UDP socket, the listener's handler opens a new TCP
    /// listener (the kernel hands out the UDP socket's number), then the UDP
    /// socket's stale event is dispatched. Returns the trace's path.
    func recordSeed(policy: DispatchPolicy) throws -> (path: String, udpFD: Int32, reusedFD: Int32) {
        // Fill every free number below the ones the test will use, so "lowest free"
        // after the UDP close is exactly the UDP socket's number.
        var fillers: [Int32] = []
        while true {
            let fd = Glibc.open("/dev/null", O_RDONLY)
            XCTAssertGreaterThanOrEqual(fd, 0, "opening /dev/null")
            fillers.append(fd)
            if (0..<fd).allSatisfy({ fcntl($0, F_GETFD) != -1 }) { break }
        }
        defer { for fd in fillers { Glibc.close(fd) } }

        let path = TraceFiles.temporaryPath("seed-\(policy)")
        let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: [], program: "seed-\(policy)"),
                                     options: TraceWriterOptions(overwrite: true))
        let poller = try EventPoller(id: 1, policy: policy, recorder: writer, label: "seed")
        let control = try poller.makeEventFD()
        let listener = try poller.makeTCPListener()
        let port = try Linux.Socket.localPort(listener)
        let client = try Linux.Socket.create(.tcp)
        defer { Glibc.close(client) }
        let udp = try poller.makeUDPSocket()
        let udpRegistration = Box<Registration?>(nil)
        let reused = Box<Int32>(-1)

        try poller.register(fd: control, interest: .readable, label: "control-api") { _, context in
            _ = try Linux.EventFd.read(fd: control)
            if let registration = udpRegistration.value { try context.poller.close(registration) }
        }
        try poller.register(fd: listener, interest: .readable, label: "rtp-tcp-listener") { _, context in
            if let accepted = try context.poller.accept(listenerFD: listener) { try context.poller.close(fd: accepted) }
            let newListener = try context.poller.makeTCPListener()
            reused.value = newListener
            try context.poller.register(fd: newListener, interest: .readable, label: "rtp-tcp-accept") { _, ctx in
                _ = try ctx.poller.accept(listenerFD: newListener)
            }
        }
        _ = try Linux.EventFd.write(fd: control)
        try Linux.Socket.connectBlocking(client, host: "127.0.0.1", port: port)
        // Registered last, already writable: its event comes third in the ready list.
        udpRegistration.value = try poller.register(fd: udp, interest: .writable, label: "rtp-udp") { _, _ in }

        let count = try poller.runOnce(timeoutMs: 1000)
        XCTAssertEqual(count, 3, "the batch must hold control, listener and UDP events together")
        try poller.close()
        try writer.close()
        return (path, udp, reused.value)
    }

    func check(policy: DispatchPolicy, expected: FindingKind) throws {
        let (path, udp, reused) = try recordSeed(policy: policy)
        defer { TraceFiles.remove(path) }
        XCTAssertEqual(reused, udp, "the kernel must hand the UDP socket's number to the new listener (lowest free)")
        let report = try TraceAnalysis.analyze(path: path)
        XCTAssertEqual(report.findings.map(\.kind), [expected],
                       "\(policy): exactly one \(expected) finding expected\n\(ReportText.render(report))")
        XCTAssertEqual(report.inconsistencyCount, 0, "the real poller's trace must be consistent: \(report.inconsistencies)")
        XCTAssertEqual(report.findings.first?.event.fd, udp, "the finding is about the UDP socket's stale event")
        let verification = try FixVerification.verify(path: path)
        XCTAssertTrue(verification.passed, "\(policy): verify must pass\n\(ReportText.render(verification))")
    }

    func testNaive_realPoller_givesExactlyOneMisrouted() throws { try check(policy: .naive, expected: .misrouted) }
    func testSnapshot_realPoller_givesExactlyOneDeadRegistration() throws { try check(policy: .snapshot, expected: .deadRegistration) }
    func testGuarded_realPoller_givesOneJustifiedSuppression() throws { try check(policy: .guarded, expected: .justifiedSuppression) }
}

/// The seed's "dead loop", for real: a level-triggered eventfd whose handler never
/// reads it is ready in every batch.
final class RealPollerSpinTests: XCTestCase {
    /// A guarded poller recording into a new trace file at `path`.
    func recordingPoller(_ name: String, path: String) throws -> (EventPoller, TraceWriter) {
        let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: [], program: name),
                                     options: TraceWriterOptions(overwrite: true))
        return (try EventPoller(id: 1, policy: .guarded, recorder: writer, label: name), writer)
    }

    func testUndrainedLevelTriggeredFD_isReportedAsOneSpin() throws {
        let path = TraceFiles.temporaryPath("spin")
        defer { TraceFiles.remove(path) }
        let (poller, writer) = try recordingPoller("spin", path: path)
        let stuck = try poller.makeEventFD()
        try poller.register(fd: stuck, interest: .readable, label: "never-drains") { _, _ in }
        _ = try Linux.EventFd.write(fd: stuck)
        for _ in 0..<12 { XCTAssertEqual(try poller.runOnce(timeoutMs: 100), 1, "the eventfd stays ready") }
        try poller.close()
        try writer.close()

        let report = try TraceAnalysis.analyze(path: path)
        XCTAssertEqual(report.findings.map(\.kind), [.spin], ReportText.render(report))
        XCTAssertEqual(report.findings.first?.ran?.handlerLabel, "never-drains")
        XCTAssertEqual(report.findings.first?.spinLength, ReplayOptions.defaultSpinThreshold)
        let strict = try TraceAnalysis.analyze(path: path, options: ReplayOptions(spinThreshold: 13))
        XCTAssertEqual(strict.count(.spin), 0, "12 batches are below a threshold of 13")
    }

    /// A listener with a connection waiting at every `epoll_wait` runs in 12
    /// consecutive batches. If its handler accepts (and closes) the connection each
    /// time, it is busy, not spinning; if it leaves the connection in the backlog,
    /// the listener stays readable for the same reason a spinning loop does.
    func testListenerReadyInEveryBatch_isASpinOnlyWhenItsHandlerAcceptsNothing() throws {
        for accepts in [true, false] {
            let path = TraceFiles.temporaryPath("listener-\(accepts)")
            defer { TraceFiles.remove(path) }
            let (poller, writer) = try recordingPoller("listener", path: path)
            let listener = try poller.makeTCPListener()
            let port = try Linux.Socket.localPort(listener)
            try poller.register(fd: listener, interest: .readable, label: "acceptor") { _, context in
                guard accepts else { return }
                if let connection = try context.poller.accept(listenerFD: listener) { try context.poller.close(fd: connection) }
            }
            var clients: [Int32] = []
            defer { for client in clients { Glibc.close(client) } }
            for _ in 0..<12 {
                // The handshake completes in the kernel: the listener is readable
                // before the loop waits. Bounded: 12 connections over loopback.
                let client = try Linux.Socket.create(.tcp)
                clients.append(client)
                try Linux.Socket.connectBlocking(client, host: "127.0.0.1", port: port)
                XCTAssertEqual(try poller.runOnce(timeoutMs: 1000), 1, "the listener is ready in this batch")
            }
            try poller.close()
            try writer.close()

            let report = try TraceAnalysis.analyze(path: path)
            if accepts {
                XCTAssertEqual(report.findings.map(\.kind), [], "a listener that accepts every time is busy: \(ReportText.render(report))")
                XCTAssertEqual(report.count(.correct), 12)
            } else {
                XCTAssertEqual(report.findings.map(\.kind), [.spin], ReportText.render(report))
                XCTAssertEqual(report.findings.first?.ran?.handlerLabel, "acceptor")
            }
        }
    }
}

final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}
