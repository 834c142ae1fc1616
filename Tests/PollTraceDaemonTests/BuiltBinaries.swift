import Foundation
import XCTest

/// The project's own executables, run as a user would: the tests of this target
/// that start `polltraced` or `polltrace-load` as processes find them here.
extension XCTestCase {
    /// The path of executable `name` of this package: beside the test bundle, or in
    /// `.build/debug`; skips the test when it is not built.
    func builtBinary(_ name: String) throws -> String {
        let besideTests = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent(name).path
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = FileManager.default.isExecutableFile(atPath: besideTests) ? besideTests
            : repository.appendingPathComponent(".build/debug/\(name)").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: path), "\(name) is not built next to the tests (\(path))")
        return path
    }

    /// Runs `binary` to its end with `input` (if any) on its stdin, which is then
    /// closed; its exit status and its stdout and stderr together.
    func run(_ binary: String, _ arguments: [String], input: String? = nil) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        let stdin = Pipe()
        process.standardInput = stdin
        try process.run()
        if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
        try stdin.fileHandleForWriting.close()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }
}
