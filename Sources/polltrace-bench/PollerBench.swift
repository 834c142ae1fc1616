import ArgumentParser

struct PollerBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "poller", abstract: "Not written yet.")
    func run() throws { throw ExitCode(2) }
}
