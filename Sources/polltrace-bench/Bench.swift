import ArgumentParser

/// Benchmarks. Each prints the machine, the command, every run and the median, so
/// its output can be pasted into docs/benchmarks.md as it is.
@main
struct PollTraceBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polltrace-bench",
        abstract: "Measure PollTrace's hot paths against their baselines.",
        subcommands: [StoreBench.self, PollerBench.self, AnalyzeBench.self, ImportBench.self, SQLBench.self, FleetBench.self, VisualizeBench.self,
                      ForeignTruthBench.self]
    )
}
