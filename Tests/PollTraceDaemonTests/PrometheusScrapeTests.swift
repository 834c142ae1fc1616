import Foundation
import Glibc
import PollTraceAnalysis
import PollTraceCore
import Synchronization
import XCTest
@testable import PollTraceDaemon

/// A real Prometheus server (Debian's `prometheus`, which `.ci/run` installs)
/// scraping a naive daemon every second on 127.0.0.1 under the seed's churn, read
/// back through Prometheus' HTTP API; `promtool` on the exposition and on the
/// rules that docs/fleet.md recommends. Skipped only where the binaries are absent.
final class PrometheusScrapeTests: XCTestCase {
    private static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    private static var rulesDirectory: String { repository.appendingPathComponent("tools/prometheus").path }

    private func executable(_ name: String) throws -> String {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        let found = (directories + ["/usr/bin", "/usr/sbin"]).map { $0 + "/" + name }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipUnless(found != nil, "\(name) is not installed (Debian package prometheus; .ci/run installs it)")
        return found!
    }

    func testRecommendedRulesAndConfig_passPromtoolsChecks_andTheirUnitTests() throws {
        let promtool = try executable("promtool")
        let rules = Self.rulesDirectory + "/polltrace-rules.yml"
        let checked = try run(promtool, ["check", "rules", rules])
        XCTAssertEqual(checked.status, 0, checked.output)
        let tested = try run(promtool, ["test", "rules", Self.rulesDirectory + "/polltrace-rules.test.yml"])
        XCTAssertEqual(tested.status, 0, "the alert rules must behave as their unit tests say:\n\(tested.output)")
        let config = try run(promtool, ["check", "config", Self.rulesDirectory + "/prometheus.yml"])
        XCTAssertEqual(config.status, 0, config.output)
    }

    func testPrometheus_scrapesANaiveDaemonUnderChurn_andReadsBackTheStaleDispatchRate() throws {
        let prometheus = try executable("prometheus")
        let promtool = try executable("promtool")
        let work = temporaryTraceDirectory("prometheus")
        defer { try? FileManager.default.removeItem(atPath: work) }

        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.dispatch = .naive
        configuration.trace = TraceSettings(directory: work + "/traces")
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        defer { try? daemon.stop() }

        let port = try freeLoopbackPort()
        let config = """
            global:
              scrape_interval: 1s
              evaluation_interval: 1s
            rule_files:
              - \(Self.rulesDirectory)/polltrace-rules.yml
            scrape_configs:
              - job_name: polltraced
                static_configs:
                  - targets: ['127.0.0.1:\(daemon.controlPort)']
            """
        try config.write(toFile: work + "/prometheus.yml", atomically: true, encoding: .utf8)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: prometheus)
        server.arguments = ["--config.file=\(work)/prometheus.yml", "--storage.tsdb.path=\(work)/tsdb",
                            "--web.listen-address=127.0.0.1:\(port)", "--log.level=warn"]
        FileManager.default.createFile(atPath: work + "/prometheus.log", contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: work + "/prometheus.log"))
        server.standardOutput = log
        server.standardError = log
        try server.run()
        defer { stopProcess(server) }
        func serverLog() -> String { (try? String(contentsOfFile: work + "/prometheus.log", encoding: .utf8)) ?? "" }

        XCTAssertTrue(eventually(seconds: 60) { httpGet(port: port, path: "/-/ready")?.status == 200 },
                      "prometheus did not become ready on 127.0.0.1:\(port):\n\(serverLog())")

        // The seed's churn in rounds on a thread of its own until the test has its answer (60 s at most).
        let stop = Mutex(false)
        let churnDone = DispatchSemaphore(value: 0)
        let controlPort = daemon.controlPort
        Thread {
            let deadline = Date().addingTimeInterval(60)
            while !stop.withLock({ $0 }), Date() < deadline {
                var churn = ChurnScenario(controlPort: controlPort, seconds: 1, maxOperations: 2_000)
                churn.sideLoadPauseMicroseconds = 5_000
                _ = churn.run()
            }
            churnDone.signal()
        }.start()

        let query = #"sum(rate(polltrace_stale_dispatches_total{job="polltraced",policy="naive"}[10s]))"#
        var rate = 0.0
        let seen = eventually(seconds: 60) {
            rate = self.queryScalar(port: port, query) ?? 0
            return rate > 0
        }
        var alertState = ""
        _ = eventually(seconds: 30) {
            alertState = self.alertState(port: port, "PollTraceStaleDispatches")
            return alertState == "pending" || alertState == "firing"
        }
        let up = queryScalar(port: port, #"up{job="polltraced"}"#)
        let exposition = try TestClient(port: daemon.controlPort)
        exposition.request("GET", "/metrics")
        let metrics = try XCTUnwrap(exposition.readResponse()?.body, "no /metrics answer")
        stop.withLock { $0 = true }
        XCTAssertEqual(churnDone.wait(timeout: .now() + 30), .success, "the churn thread did not finish")

        XCTAssertTrue(seen, "Prometheus must report a stale-dispatch rate above zero for a naive daemon under churn (last: \(rate)):\n\(serverLog())")
        XCTAssertEqual(up, 1, "the daemon must be up as Prometheus' target")
        XCTAssertTrue(alertState == "pending" || alertState == "firing",
                      "the recommended PollTraceStaleDispatches alert must be pending or firing, not '\(alertState)'")
        let checked = try run(promtool, ["check", "metrics"], input: metrics)
        XCTAssertEqual(checked.status, 0, "promtool check metrics must pass on /metrics:\n\(checked.output)")
        XCTAssertEqual(checked.output.trimmingCharacters(in: .whitespacesAndNewlines), "", "promtool must find no problem")

        try daemon.stop()
        let analysis = try TraceAnalysis.analyze(path: try XCTUnwrap(daemon.recorder?.completedPaths.last))
        XCTAssertGreaterThan(analysis.staleDispatchCount, 0, "the trace must show the stale dispatches Prometheus saw")
    }

    // MARK: Prometheus' HTTP API

    /// The single value of an instant query, nil when the result is empty or the query failed.
    private func queryScalar(port: UInt16, _ query: String) -> Double? {
        guard let reply = httpGet(port: port, path: "/api/v1/query?query=" + percentEncoded(query)), reply.status == 200,
              let document = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
              let data = document["data"] as? [String: Any], let result = data["result"] as? [[String: Any]],
              let value = result.first?["value"] as? [Any], value.count == 2, let text = value[1] as? String else { return nil }
        return Double(text)
    }

    /// The state ("pending", "firing") of alert `name`, or "" when it is not active.
    private func alertState(port: UInt16, _ name: String) -> String {
        guard let reply = httpGet(port: port, path: "/api/v1/alerts"), reply.status == 200,
              let document = try? JSONSerialization.jsonObject(with: Data(reply.body.utf8)) as? [String: Any],
              let alerts = (document["data"] as? [String: Any])?["alerts"] as? [[String: Any]] else { return "" }
        let alert = alerts.first { ($0["labels"] as? [String: Any])?["alertname"] as? String == name }
        return alert?["state"] as? String ?? ""
    }

    private func percentEncoded(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }
}

/// One HTTP/1.0 GET on 127.0.0.1, read to the end of the stream (5 s receive timeout).
func httpGet(port: UInt16, path: String) -> (status: Int, body: String)? {
    guard let client = try? TestClient(port: port) else { return nil }
    client.send("GET \(path) HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 16384)
    while true {
        let n = recv(client.fd, &buffer, buffer.count, 0)
        if n <= 0 { break }
        bytes += buffer[0..<n]
    }
    let text = String(decoding: bytes, as: UTF8.self)
    guard let split = text.range(of: "\r\n\r\n") else { return nil }
    let statusLine = text[..<split.lowerBound].split(separator: "\r\n").first ?? ""
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
    return (status, String(text[split.upperBound...]))
}

/// A port no socket on 127.0.0.1 holds now (the kernel's pick for a bind to port 0).
func freeLoopbackPort() throws -> UInt16 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw POSIXError(.EMFILE) }
    defer { Glibc.close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address -> Int32 in
            guard bind(fd, address, length) == 0 else { return -1 }
            return getsockname(fd, address, &length)
        }
    }
    guard bound == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EADDRINUSE) }
    return UInt16(bigEndian: address.sin_port)
}

/// SIGTERM, then SIGKILL if the process has not exited within 10 s.
func stopProcess(_ process: Process) {
    guard process.isRunning else { return }
    process.terminate()
    if !eventually(seconds: 10, { !process.isRunning }) {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
