import ArgumentParser

struct ImportBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Not written yet.")
    func run() throws { throw ExitCode(2) }
}
