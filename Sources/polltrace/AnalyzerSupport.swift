import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore

/// Options that `analyze` and `verify` share.
struct ReplayOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Report a spin when one registration runs in this many consecutive batches of its poller with the same mask without doing visible work (opening, registering or closing an fd; for a poller's wake-up eventfd, running posted tasks).")
    var spinThreshold: Int = ReplayOptions.defaultSpinThreshold

    @Option(name: .long, help: "List at most this many findings in detail (0 lists all); the summary always counts every one.")
    var limit: Int = 1000

    func validate() throws {
        guard spinThreshold >= 2 else { throw ValidationError("--spin-threshold must be at least 2 (got \(spinThreshold)).") }
        guard limit >= 0 else { throw ValidationError("--limit must be 0 or more (got \(limit)).") }
    }

    var replayOptions: ReplayOptions {
        ReplayOptions(spinThreshold: spinThreshold, maxDetailed: limit == 0 ? nil : limit)
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal: a pipe or a
/// file gets nothing extra, so output captured by scripts stays byte-identical.
final class ProgressBar {
    private let enabled: Bool
    private let label: String
    /// What `done` and `total` count.
    private let unit: String
    private var drawn = false

    init(label: String, unit: String = "records") {
        self.label = label
        self.unit = unit
        enabled = isatty(STDERR_FILENO) != 0
    }

    /// nil when stderr is not a terminal, so the analysis skips counting records.
    var callback: ProgressCallback? {
        guard enabled else { return nil }
        return { [self] done, total in draw(done, total) }
    }

    private func draw(_ done: UInt64, _ total: UInt64?) {
        var line = "\r\(label) "
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let filled = Int(fraction * 30)
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] "
            line += "\(Int(fraction * 100))% \(done)/\(total) \(unit)"
        } else {
            line += "\(done) \(unit)"
        }
        Console.err(line)
        drawn = true
    }

    /// Replaces the bar with `text`: a step that has no count (an import writing its
    /// trace's indexes once the log is read).
    func status(_ text: String) {
        guard enabled else { return }
        Console.err("\r\(label) \(text)\u{1B}[K")
        drawn = true
    }

    /// Erases the bar so the terminal shows only the report.
    func finish() {
        guard enabled, drawn else { return }
        Console.err("\r\u{1B}[2K")
    }
}
