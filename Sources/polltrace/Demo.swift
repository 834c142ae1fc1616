import ArgumentParser

struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reproduce the seed bug with polltraced under churn, then show that the guarded policy fixes it.")

    func run() throws {
        print("not implemented yet")
        throw ExitCode(2)
    }
}
