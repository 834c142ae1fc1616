import ArgumentParser

struct Analyze: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay traces and report stale dispatches, lost and orphan events, and spins.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
