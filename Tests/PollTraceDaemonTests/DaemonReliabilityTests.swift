import Foundation
import Glibc
import Logging
import PollTraceStore
import Synchronization
import XCTest
@testable import PollTraceDaemon

/// The daemon under hostile clients and faults: a slowloris, one address taking
/// every connection, requests without the token, a full disk, signals, and the
/// cost of doing nothing.
final class DaemonReliabilityTests: XCTestCase {
    private var daemon: PollTraceDaemon!
    private var traceDirectory = ""

    private func startDaemon(directory: String? = nil, logger: Logger = Logger(label: "test"),
                             _ adjust: (inout DaemonConfiguration) -> Void = { _ in }) throws {
        traceDirectory = directory ?? temporaryTraceDirectory(name)
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = TraceSettings(directory: traceDirectory)
        adjust(&configuration)
        daemon = try PollTraceDaemon(configuration: configuration, logger: logger)
        try daemon.start()
    }

    override func tearDown() {
        try? daemon?.stop()
        daemon = nil
        try? FileManager.default.removeItem(atPath: traceDirectory)
        super.tearDown()
    }

    private func client() throws -> TestClient { try TestClient(port: daemon.controlPort) }

    // MARK: slowloris

    /// A client that keeps sending one byte of its request every 50 ms, never
    /// finishing it, gets 408 once the request timeout has passed since its first
    /// byte: trickling does not restart the clock.
    func testTricklingRequest_getsA408_eventhoughItKeepsSending() throws {
        try startDaemon { $0.requestTimeoutMs = 300 }
        let slow = try client()
        let request = Array("GET /api/stats HTTP/1.1\r\nHost: test\r\nX-Padding: \(String(repeating: "a", count: 400))\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count - 4, !slow.isReadable {
            slow.sendBytes([request[sent]])
            sent += 1
            usleep(50_000)
        }
        XCTAssertLessThan(sent, request.count - 4, "the daemon must answer before the request is complete")
        XCTAssertEqual(slow.readResponse()?.status, 408, "a request still incomplete after the timeout gets 408")
        XCTAssertTrue(slow.readsEndOfStream(), "and is closed")
        XCTAssertEqual(daemon.stats.snapshot.requestTimeouts, 1)
    }

    /// Pipelined requests, each complete, do not count against each other's deadline.
    func testKeptAliveConnection_servesRequestsPastTheRequestTimeout() throws {
        try startDaemon { $0.requestTimeoutMs = 200 }
        let connection = try client()
        for _ in 0..<4 {
            connection.request("GET", "/api/rtp")
            XCTAssertEqual(connection.readResponse()?.status, 200)
            usleep(100_000)
        }
        XCTAssertEqual(daemon.stats.snapshot.requestTimeouts, 0)
    }

    // MARK: connections per address

    func testOneAddress_cannotHoldMoreThanItsShareOfConnections() throws {
        try startDaemon { $0.maxConnectionsPerPeer = 3 }
        var held: [TestClient] = []
        for _ in 0..<3 {
            let connection = try client()
            connection.request("GET", "/api/rtp")
            XCTAssertEqual(connection.readResponse()?.status, 200, "connections within the share are served")
            held.append(connection)
        }
        let extra = try client()
        extra.request("GET", "/api/rtp")
        let refused = extra.readResponse()
        XCTAssertEqual(refused?.status, 503, "the fourth connection from one address is refused")
        XCTAssertTrue(refused?.body.contains("127.0.0.1") ?? false, "the refusal names the address: \(refused?.body ?? "")")

        held.removeLast()  // closes it
        XCTAssertTrue(eventually {
            guard let again = try? self.client() else { return false }
            again.request("GET", "/api/rtp")
            return again.readResponse()?.status == 200
        }, "a slot freed by a close is usable again")
    }

    // MARK: access token

    func testWithAToken_everyRouteAndUnknownPath_requiresIt_comparedExactly() throws {
        let token = try XCTUnwrap(AccessToken(fileContents: Array("s3cret-token-0123456789\n".utf8)))
        try startDaemon { $0.accessToken = token }
        let routes = [("GET", "/api/stats"), ("GET", "/api/rtp"), ("POST", "/api/rtp/open"), ("POST", "/api/rtp/close?port=1"),
                      ("POST", "/api/trace/rotate"), ("GET", "/metrics"), ("GET", "/no/such/path")]
        for (method, path) in routes {
            for authorization in [nil, "Bearer s3cret-token-012345678", "Bearer s3cret-token-01234567890", "Basic s3cret-token-0123456789",
                                  "Bearer S3CRET-TOKEN-0123456789", "Bearer "] as [String?] {
                let connection = try client()
                var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
                if let authorization { text += "Authorization: \(authorization)\r\n" }
                connection.send(text + "\r\n")
                let response = connection.readResponse()
                XCTAssertEqual(response?.status, 401, "\(method) \(path) with \(authorization ?? "no token") must be refused")
                XCTAssertEqual(response?.headers["www-authenticate"], "Bearer")
            }
        }
        XCTAssertEqual(daemon.stats.snapshot.servicesOpened, 0, "no refused request may open a service")
        let allowed = try client()
        allowed.send("GET /api/stats HTTP/1.1\r\nHost: test\r\nAuthorization: bearer s3cret-token-0123456789\r\n\r\n")
        let stats = allowed.readResponse()
        XCTAssertEqual(stats?.status, 200, "the right token (scheme in any case) is accepted")
        XCTAssertEqual((stats?.json["control"] as? [String: Any])?["unauthorized"] as? Int, routes.count * 6)
    }

    func testAccessToken_parsesTheFile_andComparesInFull() {
        XCTAssertNil(AccessToken(fileContents: Array(" \n".utf8)), "an empty file is no token")
        XCTAssertNil(AccessToken(fileContents: Array("two words".utf8)), "a token is one word")
        XCTAssertFalse(AccessToken(fileContents: Array("short".utf8))!.isLongEnough)
        let token = AccessToken(fileContents: Array("0123456789abcdef\r\n".utf8))!
        XCTAssertTrue(token.admits(authorization: "Bearer 0123456789abcdef"))
        XCTAssertFalse(token.admits(authorization: "Bearer 0123456789abcdeF"))
        XCTAssertFalse(token.admits(authorization: "Bearer 0123456789abcdef0"))
        XCTAssertFalse(token.admits(authorization: "Bearer 0123456789abcde"))
        XCTAssertFalse(token.admits(authorization: nil))
    }

    func testPolltraced_offLoopback_refusesToStartWithoutAToken() throws {
        let binary = try builtBinary("polltraced")
        let directory = temporaryTraceDirectory("token")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let without = try run(binary, ["--address", "0.0.0.0", "--port", "0", "--trace-dir", directory])
        XCTAssertNotEqual(without.status, 0)
        XCTAssertTrue(without.output.contains("--token-file"), without.output)

        let short = directory + "/short-token"
        try "tooshort\n".write(toFile: short, atomically: true, encoding: .utf8)
        let weak = try run(binary, ["--address", "0.0.0.0", "--port", "0", "--trace-dir", directory, "--token-file", short])
        XCTAssertNotEqual(weak.status, 0)
        XCTAssertTrue(weak.output.contains("at least 16"), weak.output)

        let missing = try run(binary, ["--address", "0.0.0.0", "--port", "0", "--trace-dir", directory, "--token-file", directory + "/nope"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.output.contains("cannot read"), missing.output)
    }

    // MARK: signals

    /// SIGHUP finishes the trace as SIGTERM does: exit 0, no WAL left, the trace
    /// reads as closed cleanly.
    func testPolltraced_SIGHUP_finishesTheTrace_andExits0() throws {
        let binary = try builtBinary("polltraced")
        let directory = temporaryTraceDirectory("sighup")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["--port", "0", "--trace-dir", directory, "--log-level", "info"]
        let err = Pipe()
        process.standardError = err
        try process.run()
        // Ready once it logs its port; then one request so the trace has records.
        var log = ""
        var port: UInt16?
        XCTAssertTrue(eventually(seconds: 30) {
            log += String(decoding: err.fileHandleForReading.availableData, as: UTF8.self)
            port = log.range(of: #"port=(\d+)"#, options: .regularExpression).flatMap { UInt16(log[$0].dropFirst(5)) }
            return port != nil
        }, "polltraced did not log its port: \(log)")
        if let port, let connection = try? TestClient(port: port) {
            connection.request("GET", "/api/stats")
            _ = connection.readResponse()
        }
        kill(process.processIdentifier, SIGHUP)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "SIGHUP must not kill polltraced")
        XCTAssertEqual(process.terminationStatus, 0)
        let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        XCTAssertEqual(files.filter { $0.hasSuffix("-wal") }, [], "a finished trace leaves no WAL: \(files)")
        let trace = try XCTUnwrap(files.first { $0.hasSuffix(".sqlite") })
        XCTAssertTrue(try TraceReader(path: directory + "/" + trace).closedCleanly)
    }

    // MARK: idle

    /// With no client, nothing runs on the loop, so nothing reaches the trace. (A
    /// permanent 100 ms timer wrote about 20 records a second.)
    func testIdleDaemon_writesNoRecords() throws {
        try startDaemon { $0.trace?.rotation = RotationPolicy(maxBytes: 1 << 30, maxAgeSeconds: 3600) }
        do {
            let connection = try client()
            connection.request("GET", "/api/stats")
            XCTAssertEqual(connection.readResponse()?.status, 200)
        }
        // The connection is closed; once the daemon has seen that, the loop is idle.
        XCTAssertTrue(eventually { self.daemon.stats.snapshot.connectionsCurrent == 0 })
        var settled = daemon.stats.snapshot.recordsSeen
        XCTAssertTrue(eventually {
            usleep(300_000)
            let now = self.daemon.stats.snapshot.recordsSeen
            defer { settled = now }
            return now == settled
        }, "the records must stop once the last client is gone")
        usleep(1_500_000)  // fifteen of the old timer's periods
        XCTAssertEqual(daemon.stats.snapshot.recordsSeen, settled, "an idle daemon must not add records to its trace")
    }

    // MARK: full disk

    /// Tracing onto a tmpfs that fills up: the log says so once, with the trace path
    /// and the records dropped; a rotation request on the full disk fails and leaves
    /// no empty file; the daemon keeps serving.
    func testFullDisk_isLoggedOnce_andARotationLeavesNoEmptyTrace() throws {
        let mount = try DaemonTmpfs(kibibytes: 1024)
        defer { mount.unmount() }
        let messages = CapturedLog()
        var logger = Logger(label: "test") { _ in CapturedLogHandler(log: messages) }
        logger.logLevel = .info
        try startDaemon(directory: mount.path, logger: logger)
        let filler = try client()
        XCTAssertTrue(eventually(seconds: 60) {
            for _ in 0..<50 {
                filler.request("GET", "/api/rtp")
                _ = filler.readResponse()
            }
            return messages.lines.contains { $0.contains("trace writing stopped") }
        }, "the write failure must be logged: \(messages.lines)")
        let stopped = messages.lines.filter { $0.contains("trace writing stopped") }
        XCTAssertEqual(stopped.count, 1, "logged once: \(stopped)")
        XCTAssertTrue(stopped[0].contains(daemon.recorder!.currentPath!), "the line names the trace: \(stopped[0])")
        XCTAssertTrue(stopped[0].contains("records_dropped="), stopped[0])

        for _ in 0..<3 {
            let rotate = try client()
            rotate.request("POST", "/api/trace/rotate")
            XCTAssertEqual(rotate.readResponse()?.status, 500, "a rotation cannot create a trace on a full disk")
        }
        let empty = try FileManager.default.contentsOfDirectory(atPath: mount.path).filter { name in
            (try? FileManager.default.attributesOfItem(atPath: mount.path + "/" + name)[.size] as? Int) == 0
        }
        XCTAssertEqual(empty, [], "no 0-byte trace may be left")
        let probe = try client()
        probe.request("GET", "/api/stats")
        XCTAssertEqual(probe.readResponse()?.status, 200, "the daemon keeps serving")
        try? daemon.stop()
        XCTAssertTrue(messages.lines.contains { $0.contains("trace finished after a write error") }, "the end says what was lost in all")
        XCTAssertEqual(messages.lines.filter { $0.contains("trace writing stopped") }.count, 1)
    }

    // MARK: the load generator

    /// With no daemon on the port, the load generator backs off and gives up
    /// instead of failing tens of thousands of times a second for its whole run.
    func testLoadGenerator_withTheDaemonGone_backsOffAndGivesUp() throws {
        let binary = try builtBinary("polltrace-load")
        // A port nothing listens on: bind one, note it, close it.
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(probe, $0, length); return getsockname(probe, $0, &length) }
        }
        let port = UInt16(bigEndian: address.sin_port)
        Glibc.close(probe)

        let result = try run(binary, ["seed", "--control-port", String(port), "--duration", "600", "--workers", "4"])
        XCTAssertEqual(result.status, 1, "giving up is a failure:\n\(result.output)")
        XCTAssertTrue(result.output.contains("gave_up=1"), result.output)
        XCTAssertTrue(result.output.contains("stopped early"), result.output)
        let errors = result.output.range(of: #"errors=(\d+)"#, options: .regularExpression).flatMap { Int(result.output[$0].dropFirst(7)) }
        XCTAssertNotNil(errors)
        XCTAssertLessThan(errors ?? .max, 2_000, "backing off, a few hundred failed attempts at most, not tens of thousands a second")
    }
}

/// Log lines kept for a test to read.
final class CapturedLog: Sendable {
    private let storage = Mutex<[String]>([])
    func append(_ line: String) { storage.withLock { $0.append(line) } }
    var lines: [String] { storage.withLock { $0 } }
}

struct CapturedLogHandler: LogHandler {
    let log: CapturedLog
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = (metadata.merging(event.metadata ?? [:]) { $1 }).sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        log.append("\(event.level) \(event.message) \(fields)")
    }
}

/// A tmpfs of a given size; skips the test where the kernel refuses the mount.
struct DaemonTmpfs {
    let path: String

    init(kibibytes: Int) throws {
        path = temporaryTraceDirectory("full-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/mount")
        process.arguments = ["-t", "tmpfs", "-o", "size=\(kibibytes)k", "tmpfs", path]
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        if process.terminationStatus != 0 {
            try? FileManager.default.removeItem(atPath: path)
            throw XCTSkip("cannot mount a small tmpfs here (needs root and CAP_SYS_ADMIN); the full-disk case is not tested")
        }
    }

    func unmount() {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/umount")
        process.arguments = [path]
        try? process.run()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: path)
    }
}
