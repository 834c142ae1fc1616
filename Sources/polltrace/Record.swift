import ArgumentParser

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a program (or attach to a pid) under strace and import the log as a trace.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
