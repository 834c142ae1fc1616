import Foundation
import Glibc
import PollTraceAnalysis
import PollTraceCore
import XCTest
@testable import PollTraceDaemon

/// The seed's interleaving, built for real inside one epoll batch of the daemon's
/// control poller, which the test drives one iteration at a time (`runOnce`).
///
/// Before the batch is harvested the test makes four fds ready, in this order:
///   1. control connection c1 holds `POST /api/rtp/close` for service A;
///   2. service B's TCP listener has a pending connection;
///   3. control connection c2 holds `POST /api/rtp/open`;
///   4. service A's UDP socket has a datagram waiting.
/// In the batch, c1's handler closes A (freeing A's listener and UDP fd numbers),
/// B's listener accepts (taking the lowest free number) and c2's handler opens
/// service C, whose listener or UDP socket takes A's old UDP number. The fourth
/// event, harvested for A's UDP socket, is then dispatched for a number that now
/// belongs to C. The kernel decides readiness order and fd numbers, so each round
/// is checked from the trace; the test allows a bounded number of rounds.
final class DaemonSeedInterleavingTests: XCTestCase {
    private static let rounds = 5

    private struct Outcome {
        var trace: String
        var analysis: AnalysisReport
        var verification: VerificationReport
        /// fd -> /proc/self/fd link, for fds open after stop that were not before.
        var extraOpenFDs: [Int32: String]
        /// fds with an fd-opened record and no later close record.
        var fdsLeftOpenInTrace: Set<Int32>
        var stats: DaemonStats.Snapshot
    }

    private func runSeedRounds(policy: DispatchPolicy) throws -> Outcome {
        let directory = temporaryTraceDirectory("seed-\(policy)")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let fdsBefore = openFDs()
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.dispatch = policy
        configuration.trace = TraceSettings(directory: directory)
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.setUp()
        let poller = daemon.controlPoller

        func pump(until condition: () -> Bool) throws {
            for _ in 0..<1000 {
                if condition() { return }
                try poller.runOnce(timeoutMs: 2)
            }
            XCTFail("the daemon did not get to the expected state within 1000 loop iterations")
        }
        func exchange(_ client: TestClient, _ method: String, _ path: String, body: String? = nil) throws -> TestClient.Response {
            client.request(method, path, body: body)
            try pump { client.isReadable }
            return try XCTUnwrap(client.readResponse(), "no response to \(method) \(path)")
        }
        func open(_ client: TestClient) throws -> UInt16 {
            let response = try exchange(client, "POST", "/api/rtp/open", body: "{}")
            XCTAssertEqual(response.status, 201, response.body)
            return UInt16(try XCTUnwrap(response.json["port"] as? Int))
        }
        /// Returns once the daemon's end of `client`'s control connection holds
        /// what the client sent, so the fds become ready in the order of the steps.
        func waitUntilReceived(_ client: TestClient) {
            waitUntilDaemonSocketIsReadable(type: SOCK_STREAM, localPort: daemon.controlPort,
                                            peerPort: boundPort(of: client.fd))
        }

        do {
            let c1 = try TestClient(port: daemon.controlPort)
            let c2 = try TestClient(port: daemon.controlPort)
            try pump { daemon.stats.snapshot.connectionsCurrent == 2 }

            for _ in 0..<Self.rounds {
                let serviceA = try open(c1)
                let serviceB = try open(c1)
                try poller.runOnce(timeoutMs: 0)

                c1.request("POST", "/api/rtp/close", body: #"{"port": \#(serviceA)}"#)
                waitUntilReceived(c1)
                let peer = try TestClient(port: serviceB)
                waitUntilDaemonSocketIsReadable(type: SOCK_STREAM, localPort: serviceB, peerPort: nil)
                c2.request("POST", "/api/rtp/open", body: "{}")
                waitUntilReceived(c2)
                sendDatagram(to: serviceA)
                waitUntilDaemonSocketIsReadable(type: SOCK_DGRAM, localPort: serviceA, peerPort: nil)
                try poller.runOnce(timeoutMs: 100) // the batch

                try pump { c1.isReadable && c2.isReadable }
                XCTAssertEqual(c1.readResponse()?.status, 200, "closing service A must succeed")
                let openedC = try XCTUnwrap(c2.readResponse())
                XCTAssertEqual(openedC.status, 201, openedC.body)
                let serviceC = UInt16(try XCTUnwrap(openedC.json["port"] as? Int))

                Glibc.shutdown(peer.fd, Int32(SHUT_WR))
                for port in [serviceB, serviceC] {
                    XCTAssertEqual(try exchange(c1, "POST", "/api/rtp/close", body: #"{"port": \#(port)}"#).status, 200)
                }
                try pump { daemon.stats.snapshot.connectionsCurrent == 2 }
            }
        }
        let stats = daemon.stats.snapshot
        try daemon.stop()
        let trace = try XCTUnwrap(daemon.recorder?.completedPaths.last, "the daemon must leave a trace")
        let analysis = try TraceAnalysis.analyze(path: trace)
        let verification = try FixVerification.verify(path: trace)
        let outcome = Outcome(trace: trace, analysis: analysis, verification: verification,
                              extraOpenFDs: extraOpenFDs(since: fdsBefore),
                              fdsLeftOpenInTrace: try fdsLeftOpen(inTrace: trace), stats: stats)
        print("[\(policy)] " + FindingKind.allCases.map { "\($0)=\(analysis.count($0))" }.joined(separator: " ")
              + " verify=\(verification.passed ? "PASS" : "FAIL") staleSuppressed=\(verification.staleSuppressed)")
        for finding in analysis.findings where finding.kind.isStaleDispatch || finding.kind == .justifiedSuppression {
            print("  \(finding.kind) fd \(finding.event.fd) \(finding.event.mask): harvested for \(finding.harvestedFor?.handlerLabel ?? "-"), ran \(finding.ran?.handlerLabel ?? "(suppressed)")")
        }
        return outcome
    }

    func testNaive_seedInterleaving_misroutesAnEvent_withinBoundedRounds() throws {
        let outcome = try runSeedRounds(policy: .naive)
        XCTAssertGreaterThanOrEqual(outcome.analysis.count(.misrouted), 1,
            "under naive, an event harvested for service A's closed UDP socket should reach the handler of the fd that reused its number within \(Self.rounds) rounds")
        XCTAssertEqual(outcome.analysis.count(.lostEvent), 0, "naive never suppresses a live registration's event")
        XCTAssertEqual(outcome.analysis.inconsistencyCount, 0, "the trace must replay without inconsistencies")
        XCTAssertTrue(outcome.verification.passed, "replaying the naive trace through the guarded dispatcher must suppress every stale dispatch")
        XCTAssertGreaterThanOrEqual(outcome.verification.staleSuppressed, outcome.analysis.count(.misrouted))
        XCTAssertEqual(outcome.stats.staleDispatches, Int(outcome.analysis.staleDispatchCount),
            "the live stale-dispatch count (/metrics) must equal the analyzer's when each loop iteration reaches the recorder whole")
    }

    func testSnapshot_seedInterleaving_runsTheClosedRegistrationsHandler() throws {
        let outcome = try runSeedRounds(policy: .snapshot)
        XCTAssertGreaterThanOrEqual(outcome.analysis.count(.deadRegistration), 1,
            "under snapshot, service A's released UDP handler should still run for the event harvested before its close")
        XCTAssertEqual(outcome.analysis.count(.misrouted), 0, "snapshot captures handlers at harvest, so it never misroutes")
        XCTAssertEqual(outcome.stats.staleDispatches, Int(outcome.analysis.staleDispatchCount),
            "the live stale-dispatch count (/metrics) must equal the analyzer's count of dead-registration dispatches")
    }

    func testGuarded_seedInterleaving_suppressesTheStaleEvent_andLeaksNoFD() throws {
        let outcome = try runSeedRounds(policy: .guarded)
        XCTAssertEqual(outcome.analysis.staleDispatchCount, 0, "guarded must never run a handler for a stale event")
        XCTAssertGreaterThanOrEqual(outcome.analysis.count(.justifiedSuppression), 1,
            "guarded should have dropped the stale UDP event at least once in \(Self.rounds) rounds")
        XCTAssertEqual(outcome.analysis.count(.lostEvent), 0, "guarded must not drop an event of a live registration")
        XCTAssertEqual(outcome.stats.staleDispatches, 0, "the guarded daemon does not look for stale dispatches (there are none)")
        let dropped = (outcome.stats.suppressed[.registrationReplaced] ?? 0) + (outcome.stats.suppressed[.registrationGone] ?? 0)
        XCTAssertEqual(dropped, Int(outcome.analysis.count(.justifiedSuppression)),
            "the guard's live drop count (/metrics) must equal the stale events the analyzer finds justly suppressed")
        XCTAssertTrue(outcome.analysis.isClean, "the guarded trace must analyze clean")
        XCTAssertTrue(outcome.verification.passed, "verify must pass on the guarded trace")
        XCTAssertEqual(outcome.fdsLeftOpenInTrace, [],
                       "every fd the daemon opened (pollers, listeners, services, connections) must be closed in its trace")
        XCTAssertEqual(outcome.extraOpenFDs, [:],
                       "after stop the process must hold no fd it did not hold before the daemon (fd: what it is)")
    }
}
