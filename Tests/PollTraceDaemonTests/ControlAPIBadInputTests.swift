import Foundation
import Glibc
@testable import PollTraceStore
import XCTest
@testable import PollTraceDaemon

/// The control API against bad input, over real loopback sockets, with the daemon
/// running on its own poller thread in this process. Each case also checks that
/// the daemon is still serving afterwards.
final class ControlAPIBadInputTests: RunningDaemonTestCase {

    private func client() throws -> TestClient { try TestClient(port: daemon.controlPort) }

    private func assertStillServing(file: StaticString = #filePath, line: UInt = #line) throws {
        let probe = try client()
        probe.request("GET", "/api/rtp")
        XCTAssertEqual(probe.readResponse()?.status, 200, "the daemon should keep serving after bad input", file: file, line: line)
    }

    func testMalformedRequest_gets400WithJSONError_andIsClosed() throws {
        try startDaemon()
        let connection = try client()
        connection.send("THIS IS NOT HTTP\r\n\r\n")
        let response = try XCTUnwrap(connection.readResponse(), "a malformed request must get a response, not silence")
        XCTAssertEqual(response.status, 400)
        XCTAssertNotNil(response.json["error"] as? String, "the 400 must carry a JSON error message: \(response.body)")
        XCTAssertTrue(connection.readsEndOfStream(), "after a 400 the daemon must close the connection")
        try assertStillServing()
    }

    func testOversizedRequestLine_gets413_andIsClosed() throws {
        try startDaemon { $0.httpLimits.maxRequestLineBytes = 256 }
        let connection = try client()
        connection.send("GET /" + String(repeating: "a", count: 2000))
        let response = try XCTUnwrap(connection.readResponse(), "an oversized request line must be answered before its end arrives")
        XCTAssertEqual(response.status, 413)
        XCTAssertEqual(response.headers["connection"], "close")
        XCTAssertTrue(connection.readsEndOfStream(), "after a 413 the daemon must close the connection")
        try assertStillServing()
    }

    func testOversizedBody_gets413_andIsClosed() throws {
        try startDaemon { $0.httpLimits.maxBodyBytes = 1024 }
        let connection = try client()
        connection.send("POST /api/rtp/open HTTP/1.1\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 4096))
        let response = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(response.status, 413)
        XCTAssertTrue(connection.readsEndOfStream(), "after a 413 the daemon must close the connection")
        XCTAssertEqual(daemon.stats.snapshot.servicesOpened, 0, "a refused request must not open a service")
        try assertStillServing()
    }

    func testUnknownPath_gets404_andKeepsTheConnection() throws {
        try startDaemon()
        let connection = try client()
        connection.request("GET", "/api/nothing-here")
        let response = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(response.status, 404)
        XCTAssertNotNil(response.json["error"])
        connection.request("GET", "/api/stats")
        XCTAssertEqual(connection.readResponse()?.status, 200, "a 404 is not a protocol error: the connection stays usable")
    }

    func testWrongMethod_gets405_withAllowHeader() throws {
        try startDaemon()
        let connection = try client()
        connection.request("GET", "/api/rtp/open")
        let response = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(response.status, 405)
        XCTAssertEqual(response.headers["allow"], "POST")
        connection.request("DELETE", "/api/stats")
        XCTAssertEqual(connection.readResponse()?.status, 405)
    }

    func testCloseUnknownPort_gets404() throws {
        try startDaemon()
        let connection = try client()
        connection.request("POST", "/api/rtp/close", body: #"{"port": 1}"#)
        let response = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(response.status, 404)
        XCTAssertTrue((response.json["error"] as? String ?? "").contains("port 1"), response.body)
        connection.request("POST", "/api/rtp/close", body: "")
        XCTAssertEqual(connection.readResponse()?.status, 400, "close without a port is a bad request")
        connection.request("POST", "/api/rtp/close", body: #"{"port": "x"#)
        XCTAssertEqual(connection.readResponse()?.status, 400, "a body that is not JSON is a bad request")
    }

    func testOpenOnPortInUse_gets409_forOwnServiceAndForeignSocket() throws {
        try startDaemon()
        let connection = try client()
        connection.request("POST", "/api/rtp/open", body: "{}")
        let opened = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(opened.status, 201, opened.body)
        let port = try XCTUnwrap(opened.json["port"] as? Int)
        connection.request("POST", "/api/rtp/open", body: #"{"port": \#(port)}"#)
        XCTAssertEqual(connection.readResponse()?.status, 409, "a second open on a service's port must conflict")

        // A port held by a listener outside the daemon.
        let foreign = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { Glibc.close(foreign) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(foreign, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        listen(foreign, 1)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(foreign, $0, &length) } }
        let foreignPort = UInt16(bigEndian: address.sin_port)
        connection.request("POST", "/api/rtp/open", body: #"{"port": \#(foreignPort)}"#)
        let conflict = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(conflict.status, 409, "a port held by another socket must conflict: \(conflict.body)")
        XCTAssertEqual(daemon.stats.snapshot.servicesCurrent, 1, "the failed opens must not leave a service behind")
    }

    func testPastMaxConnections_newConnectionIsRefusedWith503_andLaterOnesAreServed() throws {
        try startDaemon { $0.maxConnections = 2 }
        let first = try client()
        let second = try client()
        for connection in [first, second] {
            connection.request("GET", "/api/stats")
            XCTAssertEqual(connection.readResponse()?.status, 200)
        }
        let third = try client()
        let refused = try XCTUnwrap(third.readResponse(), "a refused connection must be told why before it is closed")
        XCTAssertEqual(refused.status, 503)
        XCTAssertTrue(third.readsEndOfStream(), "a refused connection must be closed")
        XCTAssertEqual(daemon.stats.snapshot.connectionsRefused, 1)

        second.request("GET", "/api/stats", body: nil)
        _ = second.readResponse()
        Glibc.shutdown(second.fd, Int32(SHUT_WR))
        XCTAssertTrue(second.readsEndOfStream())
        XCTAssertTrue(eventually { self.daemon.stats.snapshot.connectionsCurrent == 1 }, "closing a connection must free its slot")
        let fourth = try client()
        fourth.request("GET", "/api/rtp")
        XCTAssertEqual(fourth.readResponse()?.status, 200, "once a slot is free, a new connection must be served")
    }

    func testHalfRequest_isTimedOutWith408_andClosed() throws {
        try startDaemon { $0.requestTimeoutMs = 200 }
        let connection = try client()
        connection.send("GET /api/st")
        let response = try XCTUnwrap(connection.readResponse(), "a client that goes silent mid-request must be timed out")
        XCTAssertEqual(response.status, 408)
        XCTAssertTrue(connection.readsEndOfStream())
        XCTAssertEqual(daemon.stats.snapshot.requestTimeouts, 1)
        try assertStillServing()
    }

    func testIdleKeptAliveConnection_isClosedAfterIdleTimeout_withoutAnError() throws {
        try startDaemon { $0.idleTimeoutMs = 200 }
        let connection = try client()
        connection.request("GET", "/api/rtp")
        XCTAssertEqual(connection.readResponse()?.status, 200)
        XCTAssertTrue(connection.readsEndOfStream(), "an idle kept-alive connection must be closed after the idle timeout")
        XCTAssertEqual(daemon.stats.snapshot.requestTimeouts, 0, "an idle connection is not a half request: no 408")
    }

    func testService_openListCountClose_roundTrip() throws {
        try startDaemon()
        let connection = try client()
        connection.request("POST", "/api/rtp/open")
        let opened = try XCTUnwrap(connection.readResponse())
        XCTAssertEqual(opened.status, 201)
        let port = try XCTUnwrap(opened.json["port"] as? Int)
        sendDatagram(to: UInt16(port))
        let rtp = try TestClient(port: UInt16(port))
        rtp.send("hello")
        Glibc.shutdown(rtp.fd, Int32(SHUT_WR))
        XCTAssertTrue(rtp.readsEndOfStream(), "the service closes a TCP connection once its peer is done")
        XCTAssertTrue(eventually { self.daemon.stats.snapshot.datagrams == 1 }, "the datagram must be counted")
        connection.request("GET", "/api/rtp")
        let list = try XCTUnwrap(connection.readResponse())
        let services = try XCTUnwrap(list.json["services"] as? [[String: Any]])
        XCTAssertEqual(services.map { $0["port"] as? Int }, [port])
        XCTAssertEqual(services.first?["connections"] as? Int, 1)
        connection.request("POST", "/api/rtp/close", body: #"{"port": \#(port)}"#)
        XCTAssertEqual(connection.readResponse()?.status, 200)
        connection.request("GET", "/api/stats")
        let stats = try XCTUnwrap(connection.readResponse()).json
        XCTAssertEqual((stats["services"] as? [String: Any])?["current"] as? Int, 0)
        XCTAssertNotNil(stats["dispatches"] as? [String: Any], "stats must report dispatch verdicts while tracing")
    }

    /// The writer runs in the normal class unless `idle` or `adaptive` is asked for,
    /// in either trace mode, and `/api/stats` says which class it really runs in (and
    /// how often an adaptive writer was promoted), so a user chasing a slow or gappy
    /// trace can see it.
    func testStats_sayWhichPriorityTheTraceWriterRunsAt_normalUnlessAsked() throws {
        // Where the process may not take a thread out of SCHED_IDLE, adaptive stays normal.
        let adaptive = WriterScheduling.returnFromIdleRefused == nil ? "adaptive" : "normal"
        let cases: [(TraceSettings.Mode, WriterPriority?, String)] = [
            (.lossless, nil, "normal"), (.drop, nil, "normal"), (.drop, .idle, "idle"), (.lossless, .idle, "idle"),
            (.lossless, .adaptive, adaptive), (.drop, .adaptive, adaptive),
        ]
        for (mode, priority, expected) in cases {
            try startDaemon {
                $0.trace = priority.map { TraceSettings(directory: self.traceDirectory, mode: mode, writerPriority: $0) }
                    ?? TraceSettings(directory: self.traceDirectory, mode: mode)
            }
            let connection = try client()
            var trace: [String: Any] = [:]
            XCTAssertTrue(eventually {
                connection.request("GET", "/api/stats")
                trace = connection.readResponse()?.json["trace"] as? [String: Any] ?? [:]
                return trace["writer_priority"] as? String == expected
            }, "\(mode), \(priority.map(\.rawValue) ?? "default"): writer_priority should be \(expected): \(trace)")
            XCTAssertEqual(trace["writer_priority_refused"] is NSNull, priority != .adaptive || adaptive == "adaptive", "\(trace)")
            XCTAssertEqual(trace["writer_promotions"] as? Int, 0, "an idle daemon's writer keeps up: \(trace)")
            try daemon.stop()
            try? FileManager.default.removeItem(atPath: traceDirectory)
        }
    }

    func testTraceRotate_startsANewFile_andRetentionDeletesOld() throws {
        try startDaemon { $0.trace?.rotation.retain = 1 }
        let connection = try client()
        var opened: [String] = []
        for _ in 0..<3 {
            connection.request("POST", "/api/trace/rotate")
            let response = try XCTUnwrap(connection.readResponse())
            XCTAssertEqual(response.status, 200, response.body)
            opened.append(try XCTUnwrap(response.json["opened"] as? String))
        }
        XCTAssertEqual(Set(opened).count, 3, "each rotation must open a new file")
        try daemon.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: traceDirectory).filter { $0.hasSuffix(".sqlite") }
        XCTAssertEqual(files.count, 1, "retain 1 must leave exactly one file once stop finished the current one: \(files)")
    }
}
