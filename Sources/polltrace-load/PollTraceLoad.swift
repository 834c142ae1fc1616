import ArgumentParser
import Foundation

/// Churn load for polltraced. Talks to 127.0.0.1 only; every loop is bounded by a
/// count and a duration.
@main
struct PollTraceLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polltrace-load",
        abstract: "Drive polltraced with the churn that exposes stale epoll dispatches (127.0.0.1 only).",
        discussion: """
        Every mode stops at --count operations or --duration seconds, whichever comes \
        first, and ends with one machine-readable line: `result mode=... ops=... rate=...`.
        """,
        subcommands: [StormMode.self, FloodMode.self, HoldMode.self, SeedScenario.self],
        defaultSubcommand: SeedScenario.self
    )
}

/// Options every mode shares.
struct LoadOptions: ParsableArguments {
    @Option(help: "The daemon's control API port on 127.0.0.1.")
    var controlPort: UInt16 = 8086

    @Option(help: "Stop after this many seconds.")
    var duration: Double = 10

    @Option(help: "Stop after this many operations (all workers together).")
    var count: Int = 1_000_000

    @Option(help: "Worker threads.")
    var workers: Int = 2

    @Option(help: "The daemon's --token-file, for a daemon that requires the token.")
    var tokenFile: String?

    func validate() throws {
        guard duration > 0, duration <= 3600 else { throw ValidationError("--duration must be in (0, 3600] seconds") }
        guard count > 0 else { throw ValidationError("--count must be positive") }
        guard (1...512).contains(workers) else { throw ValidationError("--workers must be in 1...512") }
        guard controlPort > 0 else { throw ValidationError("--control-port must be a port in 1...65535") }
        if let tokenFile {
            guard let text = try? String(contentsOfFile: tokenFile, encoding: .utf8),
                  !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ValidationError("--token-file \(tokenFile): cannot read a token from it")
            }
            ControlClient.authorization = "Bearer " + text.trimmingCharacters(in: .whitespacesAndNewlines)
        }
    }

    var bounds: LoadBounds { LoadBounds(maxOperations: count, seconds: duration) }
}
