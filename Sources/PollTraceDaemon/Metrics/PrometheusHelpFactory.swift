import CoreMetrics
import Prometheus
import Synchronization

/// A swift-metrics factory that makes swift-prometheus collectors in one registry,
/// each with the `# HELP` text the daemon gave its name.
///
/// Why not `PrometheusMetricsFactory` alone: it registers every collector with an
/// empty help text, so the exposition has no `# HELP` lines and `promtool check
/// metrics` rejects it; and a collector registered first with a help text and then
/// again through that factory (empty text) is a fatal mismatch in the registry.
/// Here counters and gauges go to the registry with their text; the other kinds,
/// which the daemon does not use, go through swift-prometheus' own factory.
///
/// One factory (and registry) per daemon, passed explicitly to each metric, so
/// several daemons in one process (the tests) keep separate metrics, and nothing
/// is bootstrapped process-wide.
struct PrometheusHelpFactory: MetricsFactory {
    let registry: PrometheusCollectorRegistry
    private let helpTexts = HelpTexts()
    private let fallback: PrometheusMetricsFactory

    init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        fallback = PrometheusMetricsFactory(registry: registry)
    }

    /// Sets the help text of metric `name`; call before making a metric of that name.
    func describe(_ name: String, _ help: String) { helpTexts.set(name, help) }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: helpTexts.text(for: label))
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard !aggregate else { return fallback.makeRecorder(label: label, dimensions: dimensions, aggregate: true) }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        fallback.makeTimer(label: label, dimensions: dimensions)
    }

    func destroyCounter(_ handler: any CounterHandler) { fallback.destroyCounter(handler) }
    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) { fallback.destroyFloatingPointCounter(handler) }
    func destroyRecorder(_ handler: any RecorderHandler) { fallback.destroyRecorder(handler) }
    func destroyMeter(_ handler: any MeterHandler) { fallback.destroyMeter(handler) }
    func destroyTimer(_ handler: any TimerHandler) { fallback.destroyTimer(handler) }
}

/// Metric name -> help text, shared by copies of the factory.
private final class HelpTexts: Sendable {
    private let texts = Mutex<[String: String]>([:])
    func set(_ name: String, _ help: String) { texts.withLock { $0[name] = help } }
    func text(for name: String) -> String { texts.withLock { $0[name] } ?? "" }
}
