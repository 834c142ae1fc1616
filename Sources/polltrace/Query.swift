import ArgumentParser

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run read-only SQL against a trace.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
