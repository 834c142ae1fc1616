import Foundation
import Glibc
import PollTraceAnalysis
import PollTraceCore
import XCTest
@testable import PollTraceDaemon

/// `GET /metrics` over real loopback sockets: the exposition's form, control
/// requests by route and status, agreement with `/api/stats`, and the live
/// stale-dispatch count of a naive daemon under churn against its trace.
final class MetricsEndpointTests: RunningDaemonTestCase {

    private func scrape(_ client: TestClient, file: StaticString = #filePath, line: UInt = #line) throws -> PrometheusExposition {
        client.request("GET", "/metrics")
        let response = try XCTUnwrap(client.readResponse(), "no answer to GET /metrics", file: file, line: line)
        XCTAssertEqual(response.status, 200, file: file, line: line)
        XCTAssertEqual(response.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8", file: file, line: line)
        return PrometheusExposition(response.body)
    }

    func testMetrics_isPrometheusText_withHelpAndType_unitsInNames_andTheIssuesMetrics() throws {
        try startDaemon()
        let exposition = try scrape(try TestClient(port: daemon.controlPort))
        XCTAssertEqual(exposition.malformed, [], "every line must be a comment or a sample")
        let names = Set(exposition.samples.keys.map(PrometheusExposition.name(of:)))
        for name in names {
            XCTAssertTrue(name.hasPrefix("polltrace_"), "\(name) must be under polltrace_")
            let family = exposition.families[name]
            XCTAssertNotNil(family?.help, "\(name) must have # HELP")
            XCTAssertEqual(name.hasSuffix("_total"), family?.type == "counter",
                           "\(name): counters, and only counters, end in _total (type \(family?.type ?? "none"))")
        }
        for expected in ["polltrace_batches_total", "polltrace_events_total", "polltrace_dispatches_total",
                         "polltrace_stale_dispatches_total", "polltrace_guard_dropped_stale_events_total",
                         "polltrace_registrations_open", "polltrace_trace_records_written_total",
                         "polltrace_trace_records_dropped_total", "polltrace_trace_gaps_total",
                         "polltrace_trace_writer_lag_records", "polltrace_trace_current_file_bytes",
                         "polltrace_trace_rotations_total", "polltrace_connections_open"] {
            XCTAssertTrue(names.contains(expected), "/metrics must export \(expected); it has \(names.sorted())")
        }
        XCTAssertEqual(exposition.value("polltrace_connections_open"), 1, "the scraping connection is the one open")
        XCTAssertNotNil(exposition.value("polltrace_dispatches_total",
                                         [("policy", "guarded"), ("verdict", "suppressed"), ("reason", "registration_replaced")]))
        // The listener, the sweep timer's timerfd, the wake-up eventfd and this
        // connection at least.
        XCTAssertGreaterThanOrEqual(exposition.value("polltrace_registrations_open") ?? 0, 3)
    }

    func testControlRequests_areCountedByRouteAndStatus() throws {
        try startDaemon()
        let client = try TestClient(port: daemon.controlPort)
        for (method, path, status) in [("GET", "/api/rtp", 200), ("GET", "/api/rtp", 200), ("GET", "/nope", 404),
                                        ("POST", "/api/stats", 405), ("POST", "/api/rtp/close", 400)] {
            client.request(method, path)
            XCTAssertEqual(client.readResponse()?.status, status, "\(method) \(path)")
        }
        let malformed = try TestClient(port: daemon.controlPort)
        malformed.send("NOT HTTP\r\n\r\n")
        XCTAssertEqual(malformed.readResponse()?.status, 400)

        let first = try scrape(client)
        let expected: [(String, String, Double)] = [("/api/rtp", "200", 2), ("unmatched", "404", 1), ("/api/stats", "405", 1),
                                                    ("/api/rtp/close", "400", 1), ("unparsed", "400", 1)]
        for (route, status, count) in expected {
            XCTAssertEqual(first.value("polltrace_control_requests_total", [("route", route), ("status", status)]), count,
                           "route \(route) status \(status)")
        }
        XCTAssertNil(first.value("polltrace_control_requests_total", [("route", "/metrics"), ("status", "200")]),
                     "a scrape is counted once answered, so the first sees none")
        XCTAssertEqual(first.sum("polltrace_control_requests_total"), 6)
        let second = try scrape(client)
        XCTAssertEqual(second.value("polltrace_control_requests_total", [("route", "/metrics"), ("status", "200")]), 1)
        XCTAssertEqual(second.sum("polltrace_control_requests_total"), 7)
    }

    /// Each metric read from the counters `/api/stats` reports must lie between
    /// two `/api/stats` documents fetched right before and right after it.
    func testMetrics_agreeWithStats_afterChurnOnTwoPollers() throws {
        try startDaemon { $0.pollers = 2 }
        var churn = ChurnScenario(controlPort: daemon.controlPort, seconds: 1, maxOperations: 1_500)
        churn.sideLoadPauseMicroseconds = 5_000
        XCTAssertGreaterThan(churn.run().replacements, 0, "the churn should have replaced services")

        let client = try TestClient(port: daemon.controlPort)
        func stats() throws -> [String: Any] {
            client.request("GET", "/api/stats")
            return try XCTUnwrap(client.readResponse()).json
        }
        let before = try stats()
        let metrics = try scrape(client)
        let after = try stats()
        func field(_ document: [String: Any], _ path: [String]) -> Double {
            var node: Any? = document
            for key in path { node = (node as? [String: Any])?[key] }
            return (node as? NSNumber)?.doubleValue ?? -1
        }
        func assertBetween(_ metric: Double?, _ path: [String], line: UInt = #line) {
            let low = field(before, path), high = field(after, path)
            XCTAssertTrue(metric.map { low <= $0 && $0 <= high } ?? false,
                          "\(path.joined(separator: ".")): metric \(metric ?? -1) must lie in [\(low), \(high)]", line: line)
        }
        let policy = ("policy", "guarded")
        assertBetween(metrics.value("polltrace_batches_total", [policy]), ["dispatches", "batches"])
        assertBetween(metrics.value("polltrace_dispatches_total", [policy, ("verdict", "ran"), ("reason", "none")]),
                      ["dispatches", "ran"])
        for reason in SuppressionReason.allCases {
            assertBetween(metrics.value("polltrace_dispatches_total", [policy, ("verdict", "suppressed"), ("reason", reason.description)]),
                          ["dispatches", "suppressed", reason.description])
        }
        for reason in [SuppressionReason.registrationReplaced, .registrationGone] {
            assertBetween(metrics.value("polltrace_guard_dropped_stale_events_total", [policy, ("reason", reason.description)]),
                          ["dispatches", "suppressed", reason.description])
        }
        XCTAssertGreaterThan(metrics.sum("polltrace_guard_dropped_stale_events_total"), 0,
                             "guarded under churn drops stale events, and the metric must show it")
        assertBetween(metrics.value("polltrace_trace_records_seen_total"), ["trace", "records_seen"])
        assertBetween(metrics.value("polltrace_trace_records_written_total"), ["trace", "records_written"])
        assertBetween(metrics.value("polltrace_connections_accepted_total"), ["connections", "accepted"])
        assertBetween(metrics.value("polltrace_services_opened_total"), ["services", "opened"])
        XCTAssertEqual(metrics.value("polltrace_stale_dispatches_total", [policy]), 0)
        XCTAssertEqual(metrics.value("polltrace_services_open"), 0, "the churn closes every service it opened")
    }

    func testTracingOff_exportsTheConnectionMetrics_andNoRecordMetrics() throws {
        try startDaemon { $0.trace = nil }
        let exposition = try scrape(try TestClient(port: daemon.controlPort))
        XCTAssertEqual(exposition.malformed, [])
        XCTAssertEqual(exposition.value("polltrace_connections_open"), 1)
        XCTAssertNil(exposition.value("polltrace_batches_total", [("policy", "guarded")]),
                     "batches are counted from records, which are not made with tracing off")
        XCTAssertFalse(exposition.samples.keys.contains { $0.hasPrefix("polltrace_trace_") })
    }

    /// Under naive the live count must see the seed's misroutes under churn, and
    /// never count more than the analyzer finds in the same daemon's trace.
    func testNaiveUnderChurn_staleDispatchesAreCounted_andBoundedByTheAnalyzersCount() throws {
        try startDaemon { $0.dispatch = .naive }
        var churn = ChurnScenario(controlPort: daemon.controlPort, seconds: 2, maxOperations: 2_000)
        churn.sideLoadPauseMicroseconds = 5_000
        XCTAssertGreaterThan(churn.run().replacements, 0)
        let metrics = try scrape(try TestClient(port: daemon.controlPort))
        let live = try XCTUnwrap(metrics.value("polltrace_stale_dispatches_total", [("policy", "naive")]))
        try daemon.stop()
        let analysis = try TraceAnalysis.analyze(path: try XCTUnwrap(daemon.recorder?.completedPaths.last))
        XCTAssertGreaterThan(live, 0, "naive under the seed's churn misroutes, and /metrics must show it (analyzer: \(analysis.staleDispatchCount))")
        XCTAssertLessThanOrEqual(live, Double(analysis.staleDispatchCount), "the live count is a lower bound of the analyzer's")
    }
}
