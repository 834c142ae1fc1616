import ArgumentParser
import PollTraceAnalysis

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise a trace: records, pollers, batches, dispatch times, fd reuse, gaps.",
        discussion: "Exit codes: 0 printed, 2 bad input.")

    @Argument(help: "A trace file (SQLite).")
    var trace: String

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func run() throws {
        let bar = ProgressBar(label: "stats \(trace)")
        do {
            let stats = try TraceStatistics.collect(path: trace, progress: bar.callback)
            bar.finish()
            Console.out(json ? StatsReport.json(stats).rendered() : StatsReport.text(stats))
        } catch {
            bar.finish()
            throw Console.badInput(error, trace: trace)
        }
    }
}
