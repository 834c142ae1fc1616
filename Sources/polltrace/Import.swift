import ArgumentParser

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Turn an strace log into a trace.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
