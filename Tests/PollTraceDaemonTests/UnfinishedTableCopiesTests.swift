import Foundation
import Glibc
import Logging
import PollTraceCore
import PollTraceStore
import XCTest
@testable import PollTraceDaemon

/// A daemon killed while it made a trace's v7 tables leaves the trace complete in
/// its recording form and a half-built `.writing` copy beside it. The next daemon
/// in that directory removes the copy, and only copies of processes that are gone.
final class UnfinishedTableCopiesTests: XCTestCase {
    /// A pid that ran and has exited (reaped), so no process has it.
    private func deadPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    func testWriterPID_isTheSecondFieldFromTheEnd_whateverThePrefix() {
        XCTAssertEqual(UnfinishedTableCopies.writerPID(of: "polltraced-20261207T054335-8237-1.sqlite.writing"), 8237)
        XCTAssertEqual(UnfinishedTableCopies.writerPID(of: "my-media-server-20261207T054335-42-17.sqlite.writing"), 42)
        XCTAssertNil(UnfinishedTableCopies.writerPID(of: "polltraced-x.sqlite.writing"))
        XCTAssertNil(UnfinishedTableCopies.writerPID(of: "polltraced-20261207T054335-abc-1.sqlite.writing"))
    }

    /// What a daemon killed in the middle of finishing its trace leaves, made by
    /// hand: the trace in its recording form (closed by its writer, no tables yet)
    /// and a `.writing` copy. A second, live process's copy is there too.
    func testRecorderStart_removesADeadDaemonsCopy_keepsTheTrace_andALiveProcesssCopy() throws {
        let directory = temporaryTraceDirectory("unfinished-copies")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dead = try deadPID()
        let trace = "\(directory)/polltraced-20261207T054335-\(dead)-1.sqlite"
        let records: [TraceRecord] = [
            .fdOpened(FDOpened(seq: 1, timeNs: 10, poller: 1, fd: 7, origin: .accept)),
            .closed(Closed(seq: 2, timeNs: 20, poller: 1, fd: 7)),
        ]
        let writer = try TraceWriter(path: trace, metadata: TraceMetadata(pid: dead, program: "polltraced", host: "test",
                                                                          startWallClockNs: 0, startMonotonicNs: 0),
                                     options: TraceWriterOptions(finalization: nil), sequence: SequenceCounter(startingAfter: 2))
        writer.record(contentsOf: records)
        try writer.close()
        let traceBytes = try Data(contentsOf: URL(fileURLWithPath: trace))
        let deadCopy = trace + ".writing"
        let liveCopy = "\(directory)/polltraced-20261207T054335-1-1.sqlite.writing"  // pid 1 always runs
        let unrelated = "\(directory)/notes-1-1.sqlite.writing"
        for path in [deadCopy, liveCopy, unrelated] {
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(repeating: 0xAB, count: 4096)))
        }

        let recorder = try DaemonRecorder(settings: TraceSettings(directory: directory), stats: DaemonStats(),
                                          logger: Logger(label: "test"))
        defer { try? recorder.close() }
        XCTAssertFalse(FileManager.default.fileExists(atPath: deadCopy), "the dead daemon's half-built copy must be removed")
        XCTAssertTrue(FileManager.default.fileExists(atPath: liveCopy), "a running process's copy is still being written")
        XCTAssertTrue(FileManager.default.fileExists(atPath: unrelated), "a file of another naming is not the daemon's")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: trace)), traceBytes, "the trace itself is not touched")
        var cursor = try TraceReader(path: trace).records()
        var read: [TraceRecord] = []
        while let record = try cursor.next() { read.append(record) }
        XCTAssertEqual(read, records, "the trace keeps every record in its recording form")
    }
}
