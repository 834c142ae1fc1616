import ArgumentParser

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Summarise a trace: records, pollers, batches, dispatch times, fd reuse, gaps.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
