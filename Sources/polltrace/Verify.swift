import ArgumentParser

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Replay a trace through the guarded dispatcher and show that it suppresses every stale dispatch and no correct one.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
