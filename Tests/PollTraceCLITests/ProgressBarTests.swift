import Foundation
import PollTraceCore
import XCTest

/// The progress bar appears on stderr only when stderr is a terminal, and never
/// changes what goes to stdout.
final class ProgressBarTests: XCTestCase {
    /// A trace long enough for the bar to be drawn (it updates every 65,536 records).
    static func longTrace() throws -> String {
        var records: [TraceRecord] = [
            .fdOpened(FDOpened(seq: 1, timeNs: 1, poller: 0, fd: 5, origin: .socket)),
            .registered(Registered(seq: 2, timeNs: 2, poller: 1, registrationID: 1, fd: 5, interest: .readable,
                                   data: 5, handlerLabel: "reader")),
        ]
        var seq: SequenceNumber = 2
        for n in 1...50_000 as ClosedRange<UInt64> {
            seq += 1
            let batch = seq
            records.append(.batch(BatchHarvested(seq: batch, timeNs: seq, poller: 1, batchNumber: n, timeoutMs: 10, waitedNs: 1,
                                                 events: n % 2 == 0 ? [HarvestedEvent(fd: 5, mask: .readable, data: 5)] : [])))
            if n % 2 == 0 {
                seq += 1
                records.append(.dispatch(Dispatch(seq: seq, timeNs: seq, poller: 1, source: .event, batchSeq: batch, eventIndex: 0,
                                                  ranRegistrationID: 1, deliveredMask: .readable, suppression: nil,
                                                  handlerThrew: false, durationNs: 10)))
            }
        }
        return try CLITraces.write(records, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .guarded)], name: "long")
    }

    func testProgressBar_onlyWhenStderrIsATerminal_andStdoutIsUnchanged() throws {
        let trace = try Self.longTrace()
        let piped = try CLI.run(["analyze", trace])
        XCTAssertEqual(piped.status, 0, piped.stdout)
        XCTAssertEqual(piped.stderr, "", "stderr is a pipe: no progress bar")

        // `script` gives the command a terminal; stdout goes to a file, stderr to the terminal.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-tests-\(getpid())")
        let stdoutFile = dir.appendingPathComponent("tty-stdout.txt").path
        let transcript = dir.appendingPathComponent("tty-transcript.txt").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", "'\(CLI.binary.path)' analyze '\(trace)' > '\(stdoutFile)'", transcript]
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        let terminal = try String(contentsOfFile: transcript, encoding: .utf8)
        XCTAssertTrue(terminal.contains("analyze \(trace) [") && terminal.contains("% 65536/"),
                      "the bar is drawn on the terminal: \(terminal.prefix(300))")
        XCTAssertEqual(try String(contentsOfFile: stdoutFile, encoding: .utf8), piped.stdout,
                       "stdout is byte-identical with or without a terminal on stderr")
    }
}
