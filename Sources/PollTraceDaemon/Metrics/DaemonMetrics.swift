import CoreMetrics
import PollTraceCore
import PollTraceStore
import Prometheus

/// `GET /metrics`: the daemon's counters in the Prometheus text format, as
/// swift-metrics metrics exported by swift-prometheus.
///
/// The source of truth stays `DaemonStats` (and the recorder's writer statistics):
/// the loops count once, as they already do for `/api/stats`, and a scrape copies
/// those totals into the metrics, adding to each counter what it gained since the
/// last scrape. So a scrape costs the loops nothing, and nothing on the record path
/// knows metrics exist. Only control requests by route and status are counted
/// here, as they are answered (one per request, on the control poller).
///
/// Loop-confined to the control poller: scrapes and request counts run there.
final class DaemonMetrics {
    private let factory: PrometheusHelpFactory
    private let stats: DaemonStats
    private let recorder: DaemonRecorder?
    private let policy: String

    private var counters: [ExportedCounter] = []
    private var gauges: [(CoreMetrics.Gauge, (Readings) -> Int)] = []
    private var writerCPU: CoreMetrics.FloatingPointCounter?
    private var writerCPUExported = 0.0
    /// "route status" -> its counter, made on first use.
    private var requestCounters: [String: CoreMetrics.Counter] = [:]

    init(stats: DaemonStats, recorder: DaemonRecorder?, policy: DispatchPolicy) {
        factory = PrometheusHelpFactory(registry: PrometheusCollectorRegistry())
        self.stats = stats
        self.recorder = recorder
        self.policy = policy.rawValue
        defineConnectionMetrics()
        if recorder != nil { defineRecordMetrics() }
        factory.describe("polltrace_control_requests_total",
                         "Control API responses, by route (the path; unmatched for an unknown path, unparsed for a request that did not parse or timed out) and HTTP status.")
    }

    // MARK: Definitions

    private func defineConnectionMetrics() {
        gauge("polltrace_connections_open", "Connections open now (control API and RTP TCP together).") { $0.stats.connectionsCurrent }
        counter("polltrace_connections_accepted_total", "Connections accepted (control API and RTP TCP).") { $0.stats.connectionsAccepted }
        counter("polltrace_connections_refused_total", "Connections refused past --max-connections.") { $0.stats.connectionsRefused }
        gauge("polltrace_services_open", "RTP-style services open now.") { $0.stats.servicesCurrent }
        counter("polltrace_services_opened_total", "RTP-style services opened.") { $0.stats.servicesOpened }
        counter("polltrace_services_closed_total", "RTP-style services closed.") { $0.stats.servicesClosed }
        counter("polltrace_rtp_datagrams_total", "Datagrams the services' UDP sockets received.") { $0.stats.datagrams }
        counter("polltrace_rtp_received_bytes_total", "Bytes the services' TCP connections received.") { $0.stats.rtpBytes }
        counter("polltrace_empty_wakeups_total",
                "Handler runs that found nothing to read or accept; under naive, where a misrouted event lands.") { $0.stats.emptyWakeups }
    }

    /// Counted from the records on their way to the trace, so only while tracing.
    private func defineRecordMetrics() {
        let policy = [("policy", policy)]
        counter("polltrace_batches_total", "Batches harvested by epoll_wait, on every poller.", policy) { $0.stats.batches }
        counter("polltrace_events_total", "Events harvested and dispatched (one dispatch decision each).", policy) { $0.stats.eventDispatches }
        factory.describe("polltrace_dispatches_total",
                         "Event dispatches by policy and verdict: ran (reason none) or suppressed, with the suppression reason.")
        counter("polltrace_dispatches_total", nil, policy + [("verdict", "ran"), ("reason", "none")]) { $0.stats.dispatchesRan }
        for reason in SuppressionReason.allCases {
            counter("polltrace_dispatches_total", nil, policy + [("verdict", "suppressed"), ("reason", reason.description)]) {
                $0.stats.suppressed[reason] ?? 0
            }
        }
        counter("polltrace_stale_dispatches_total",
                "Handlers run for an event whose registration ended after its harvest (misrouted under naive, dead under snapshot), counted live: a lower bound that polltrace analyze makes exact. Always 0 under guarded.",
                policy) { $0.stats.staleDispatches }
        factory.describe("polltrace_guard_dropped_stale_events_total",
                         "Stale events the guard dropped (the fix at work): the registration was replaced or is gone.")
        for reason in [SuppressionReason.registrationReplaced, .registrationGone] {
            counter("polltrace_guard_dropped_stale_events_total", nil, policy + [("reason", reason.description)]) {
                $0.stats.suppressed[reason] ?? 0
            }
        }
        gauge("polltrace_registrations_open", "Registrations live now on every poller.") { $0.stats.registrationsOpen }
        counter("polltrace_trace_records_seen_total", "Records the pollers handed to the trace.") { $0.stats.recordsSeen }
        counter("polltrace_trace_records_written_total", "Records committed to trace files, over every file.") { $0.writer.recordsWritten }
        counter("polltrace_trace_records_dropped_total", "Records lost (drop mode, or after a write error), each accounted for by a gap.") { $0.writer.recordsDropped }
        counter("polltrace_trace_gaps_total", "Gap records written (each stands for one run of dropped records).") { $0.writer.gapsRecorded }
        gauge("polltrace_trace_writer_lag_records",
              "Records handed to the trace and neither committed nor dropped yet: how far the writer is behind.") {
            max(0, $0.stats.recordsSeen - $0.writer.recordsWritten - $0.writer.recordsDropped)
        }
        gauge("polltrace_trace_current_file_bytes", "Size of the trace file being written, its WAL included.") { $0.currentFileBytes }
        counter("polltrace_trace_rotations_total", "New trace files started (by request, size or age).") { $0.rotations }
        factory.describe("polltrace_trace_writer_cpu_seconds_total", "CPU time the trace writer thread has used.")
        writerCPU = CoreMetrics.FloatingPointCounter(label: "polltrace_trace_writer_cpu_seconds_total", dimensions: [], factory: factory)
    }

    private func counter(_ name: String, _ help: String?, _ dimensions: [(String, String)] = [],
                         _ value: @escaping (Readings) -> Int) {
        if let help { factory.describe(name, help) }
        counters.append(ExportedCounter(counter: CoreMetrics.Counter(label: name, dimensions: dimensions, factory: factory), value: value))
    }

    private func gauge(_ name: String, _ help: String, _ value: @escaping (Readings) -> Int) {
        factory.describe(name, help)
        gauges.append((CoreMetrics.Gauge(label: name, dimensions: [], factory: factory), value))
    }

    // MARK: Scrape

    /// Brings every metric up to date with the counters and renders the exposition.
    func scrape() -> [UInt8] {
        let readings = read()
        for index in counters.indices { counters[index].sync(readings) }
        for (gauge, value) in gauges { gauge.record(value(readings)) }
        if let writerCPU {
            let seconds = Double(readings.writer.writerCPUNs) / 1e9
            if seconds > writerCPUExported {
                writerCPU.increment(by: seconds - writerCPUExported)
                writerCPUExported = seconds
            }
        }
        return factory.registry.emitToBuffer()
    }

    /// What one scrape reads, each source once.
    struct Readings {
        var stats: DaemonStats.Snapshot
        var writer = TraceWriterStatistics()
        var rotations = 0
        var currentFileBytes = 0
    }

    private func read() -> Readings {
        var readings = Readings(stats: stats.snapshot)
        if let recorder {
            readings.writer = recorder.statistics
            readings.rotations = recorder.rotationCount
            if let path = recorder.currentPath {
                readings.currentFileBytes = Int(DaemonRecorder.fileBytes(path) + DaemonRecorder.fileBytes(path + "-wal"))
            }
        }
        return readings
    }

    /// The `/metrics` response: the exposition as text version 0.0.4.
    func response() -> HTTPResponse {
        HTTPResponse(status: .ok, body: scrape(), contentType: "text/plain; version=0.0.4; charset=utf-8")
    }

    // MARK: Control requests

    /// Counts one control API response. `request` is nil when none was parsed.
    func countControlRequest(_ request: HTTPRequest?, status: HTTPStatus) {
        let route: String
        if let request {
            switch ControlEndpoint.router.resolve(request) {
            case .endpoint, .methodNotAllowed: route = request.path
            case .notFound: route = "unmatched"
            }
        } else {
            route = "unparsed"
        }
        let key = "\(route) \(status.code)"
        if let counter = requestCounters[key] {
            counter.increment()
            return
        }
        let counter = CoreMetrics.Counter(label: "polltrace_control_requests_total",
                              dimensions: [("route", route), ("status", String(status.code))], factory: factory)
        requestCounters[key] = counter
        counter.increment()
    }
}

/// A counter that follows a running total: each sync adds what the total gained.
private struct ExportedCounter {
    let counter: CoreMetrics.Counter
    let value: (DaemonMetrics.Readings) -> Int
    var exported = 0

    init(counter: CoreMetrics.Counter, value: @escaping (DaemonMetrics.Readings) -> Int) {
        self.counter = counter
        self.value = value
    }

    mutating func sync(_ readings: DaemonMetrics.Readings) {
        let total = value(readings)
        guard total > exported else { return }
        counter.increment(by: total - exported)
        exported = total
    }
}
