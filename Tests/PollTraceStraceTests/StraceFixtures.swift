import Foundation
import PollTraceStrace
import XCTest

/// Builds the C programs in `Fixtures/` with the system `cc` and runs them under the
/// real strace, with the flags `polltrace record` uses.
enum StraceFixtures {
    /// The seeds a ground-truth test runs: from `POLLTRACE_TRUTH_SEED` (to replay a
    /// run) or random, `schedulesVariable` of them (default `defaultCount`). Printed,
    /// so a failing run can be replayed.
    static func truthSeeds(for test: String, schedulesVariable: String, defaultCount: Int) -> Range<UInt64> {
        let environment = ProcessInfo.processInfo.environment
        let first = environment["POLLTRACE_TRUTH_SEED"].flatMap(UInt64.init) ?? UInt64.random(in: 1...1_000_000_000)
        let total = environment[schedulesVariable].flatMap(Int.init) ?? defaultCount
        print("\(test): seeds \(first)..<\(first + UInt64(total)) (POLLTRACE_TRUTH_SEED=\(first) replays)")
        return first..<(first + UInt64(total))
    }

    /// `Tests/StraceFixtures`: outside the test target, because SwiftPM refuses C
    /// sources (and warns about other files) inside a Swift test target.
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("StraceFixtures")

    static func temporaryDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-strace-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    static func strace() throws -> String {
        guard let path = StraceCommand.locate() else { throw XCTSkip("strace is not installed (.ci/run installs it)") }
        return path
    }

    /// Compiles `Fixtures/<name>.c` into `dir`.
    static func compile(_ name: String, defines: [String] = [], libraries: [String] = [], into dir: URL) throws -> URL {
        let output = dir.appendingPathComponent(name + defines.joined())
        let source = directory.appendingPathComponent(name + ".c").path
        let status = try run("/usr/bin/env", ["cc", "-O0", "-pthread"] + defines.map { "-D\($0)" }
                             + ["-o", output.path, source] + libraries.map { "-l\($0)" })
        guard status == 0 else { throw XCTSkip("cc could not build \(source) (exit \(status)); is gcc installed?") }
        return output
    }

    /// Runs `program` under strace; returns the log's path.
    static func record(_ program: URL, arguments: [String] = [], in dir: URL) throws -> String {
        let strace = try strace()
        let log = dir.appendingPathComponent(program.lastPathComponent + ".strace").path
        let status = try run(strace, StraceCommand.arguments(output: log, seccompBPF: false) + [program.path] + arguments)
        XCTAssertEqual(status, 0, "the fixture program \(program.lastPathComponent) failed under strace")
        return log
    }

    @discardableResult
    static func run(_ executable: String, _ arguments: [String]) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// 1-based numbers of the log lines that contain `text`, once `-yy` annotations
    /// (`8<UDP:[127.0.0.1:5000]>`, `6<TCP:[a->b]>`) are taken out.
    static func lines(containing text: String, in log: String) throws -> [UInt32] {
        let content = try String(contentsOfFile: log, encoding: .utf8)
        return content.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
            .filter { withoutAnnotations(String($0.element)).contains(text) }.map { UInt32($0.offset + 1) }
    }

    static func withoutAnnotations(_ line: String) -> String {
        line.replacingOccurrences(of: #"(\d)<(?:->|[^>])*>"#, with: "$1", options: .regularExpression)
    }
}
