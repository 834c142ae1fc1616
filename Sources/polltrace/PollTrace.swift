import ArgumentParser
import Foundation

/// The analyzer. Each verb lives in its own file beside this one.
@main
struct PollTrace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polltrace",
        abstract: "Replay epoll event-loop traces and find events dispatched to the wrong handler.",
        discussion: """
        A trace is an SQLite file recorded by the EventPoller library, by polltraced, \
        or imported from an strace log. The analyzer opens traces read-only and never \
        changes them.

        Exit codes: 0 clean, 1 findings (stale dispatches, lost events, failed \
        verification), 2 usage error or bad input.
        """,
        subcommands: [Analyze.self, Verify.self, Stats.self, Query.self, Finalize.self, Timeline.self, Report.self, Import.self, Record.self, Demo.self]
    )

    /// Usage errors exit 2, not ArgumentParser's default 64, so that scripts can tell
    /// "bad input" (2) from "findings" (1) with one documented convention.
    static func main() {
        Console.prepare()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                // --help and --version: asked for, so they go to stdout.
                if !message.isEmpty { Console.out(message + "\n") }
                Foundation.exit(0)
            }
            if !message.isEmpty { Console.err(message + "\n") }
            Foundation.exit(code == ExitCode(1) ? 1 : 2)
        }
    }
}
