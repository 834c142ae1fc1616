import ArgumentParser

struct AnalyzeBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "analyze", abstract: "Not written yet.")
    func run() throws { throw ExitCode(2) }
}
