import ArgumentParser

struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Not written yet.")
    func run() throws { throw ExitCode(2) }
}
