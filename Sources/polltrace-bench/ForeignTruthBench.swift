import ArgumentParser
import Foundation
import PollTraceStrace

/// `polltrace-bench foreign-truth`: the foreign-loop analysis against a program's
/// own ground truth, over any number of seeded random schedules (the test suite runs
/// 200). Builds `truth_loop.c` with cc, runs it under strace `--per-run` schedules at
/// a time, analyses each log in the three epoll_event formats, and prints recall and
/// precision on likely stale dispatches, whether the hazards are exact, and the first
/// schedule where analysis and truth disagree.
struct ForeignTruthBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foreign-truth",
        abstract: "Compare the strace analysis with truth_loop.c's ground truth over seeded random schedules.")

    @Option(help: "Schedules to run.")
    var schedules = 1000

    @Option(help: "The first schedule's seed (schedule i uses seed + i).")
    var seed: UInt64 = 1

    @Option(help: "Schedules per strace run.")
    var perRun = 100

    @Option(help: "The harness source.")
    var source = "Tests/StraceFixtures/truth_loop.c"

    @Flag(help: "Analyse only strace's own event format (skip the rewritten older and newer formats).")
    var oneFormat = false

    func validate() throws {
        guard schedules > 0, perRun > 0 else { throw ValidationError("--schedules and --per-run must be positive") }
        guard FileManager.default.fileExists(atPath: source) else {
            throw ValidationError("no harness at \(source); run from the repository root or pass --source")
        }
    }

    func run() throws {
        guard let strace = StraceCommand.locate() else { throw ValidationError("strace is not installed") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-truth-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let program = dir.appendingPathComponent("truth_loop").path
        guard try execute("/usr/bin/env", ["cc", "-O1", "-pthread", "-o", program, source]) == 0 else {
            throw ValidationError("cc could not build \(source)")
        }
        say("machine: \(BenchMachine.describe())")
        say("command: polltrace-bench foreign-truth --schedules \(schedules) --seed \(seed) --per-run \(perRun)")
        var score = GroundTruth.Score()
        var formatMismatches = 0
        var logLines = 0
        let start = Date()
        var next = seed
        while next < seed + UInt64(schedules) {
            let count = min(perRun, Int(seed + UInt64(schedules) - next))
            let log = dir.appendingPathComponent("run.strace").path
            let truthPath = dir.appendingPathComponent("run.truth").path
            try? FileManager.default.removeItem(atPath: truthPath)
            // Without -yy, as the test suite runs it: labels do not change the findings,
            // and strace's socket lookups for them make each run many times slower.
            let status = try execute(strace, StraceCommand.arguments(output: log, seccompBPF: false, labels: false)
                                     + [program, String(next), String(count), truthPath])
            guard status == 0 else { throw ValidationError("truth_loop \(next) \(count) failed under strace (\(status))") }
            let truth = GroundTruth.parseTruth(try String(contentsOfFile: truthPath, encoding: .utf8))
            let text = try String(contentsOfFile: log, encoding: .utf8)
            logLines += text.utf8.reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
            let (found, _) = GroundTruth.analyze(logText: text)
            score.add(truth: truth, found: found, label: "strace's format")
            if !oneFormat {
                for format in EventFormatRewrite.Format.allCases
                where GroundTruth.analyze(logText: EventFormatRewrite.rewrite(text, to: format)).findings != found {
                    formatMismatches += 1
                    say("seeds \(next)..<\(next + UInt64(count)): the \(format.rawValue) format gives other findings")
                }
            }
            next += UInt64(count)
            say(String(format: "  %d schedules, %.0f s: recall %.4f, precision %.4f, disagreements %d",
                       score.schedules, Date().timeIntervalSince(start), score.recall, score.precision,
                       score.disagreements))
        }
        say("")
        say(score.summary)
        say("strace log lines analysed: \(logLines); event formats compared: \(oneFormat ? 1 : 3), "
            + "format mismatches: \(formatMismatches)")
        if score.disagreements > 0 || formatMismatches > 0 { throw ExitCode(1) }
    }

    private func execute(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
