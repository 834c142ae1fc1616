import XCTest
import Foundation
import PollTraceCore
@testable import PollTraceStore

/// The record the crash child makes for `seq`: deterministic, so the parent can
/// check every record it reads back field by field (a torn row would differ).
func crashChildRecord(_ seq: SequenceNumber) -> TraceRecord {
    switch seq % 3 {
    case 0:
        .batch(BatchHarvested(seq: seq, timeNs: Fixtures.start + seq * 7, poller: 1, batchNumber: seq, timeoutMs: 100,
                              waitedNs: seq, events: (0..<Int(seq % 5)).map {
                                  HarvestedEvent(fd: Int32($0 + 10), mask: .readable, data: EpollData.pack(registrationID: UInt32(truncatingIfNeeded: seq), fd: Int32($0 + 10)))
                              }))
    case 1:
        .dispatch(Dispatch(seq: seq, timeNs: Fixtures.start + seq * 7, poller: 1, source: .event, batchSeq: seq - 1,
                           eventIndex: 0, ranRegistrationID: UInt32(truncatingIfNeeded: seq), deliveredMask: .readable,
                           suppression: nil, handlerThrew: false, durationNs: seq))
    default:
        .registered(Registered(seq: seq, timeNs: Fixtures.start + seq * 7, poller: 1, registrationID: UInt32(truncatingIfNeeded: seq),
                               fd: Int32(seq % 1000), interest: .readable, data: seq, handlerLabel: "conn-\(seq % 50)"))
    }
}

/// The child side: started by `CrashConsistencyTests` as this same test binary with
/// `POLLTRACE_CRASH_CHILD_TRACE` set. Records continuously and prints, after each
/// flush it sees, how many records are committed. Without the variable (a normal
/// test run) it does nothing.
final class CrashChildEntryPoint: XCTestCase {
    static let environmentKey = "POLLTRACE_CRASH_CHILD_TRACE"

    func testRecordUntilKilled() throws {
        guard let path = ProcessInfo.processInfo.environment[Self.environmentKey] else { return }
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(bufferCapacity: 4096, flushInterval: .milliseconds(5)),
                                     sequence: sequence)
        var reported = 0
        // Bounded: the parent kills us long before either limit.
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && sequence.current < 50_000_000 {
            for _ in 0..<256 { writer.record(crashChildRecord(sequence.next())) }
            let written = writer.statistics.recordsWritten
            if written != reported {
                reported = written
                FileHandle.standardOutput.write(Data("committed \(written)\n".utf8))
            }
        }
        try writer.close()
    }
}

final class CrashConsistencyTests: XCTestCase {
    func testChildKilledMidStream_everyCommittedRecordReadsBack_inOrder_noDuplicates() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("crash.trace")
        let (child, output) = try startChildTest("PollTraceStoreTests.CrashChildEntryPoint/testRecordUntilKilled", environmentKey: CrashChildEntryPoint.environmentKey, path: path)

        // Wait (at most 60 s) until the child has committed several flushes' worth.
        var lastCommitted = 0
        var commitsSeen = 0
        var pendingText = ""
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && (commitsSeen < 5 || lastCommitted < 20_000) && child.isRunning {
            let data = output.fileHandleForReading.availableData
            if data.isEmpty { break }
            pendingText += String(decoding: data, as: UTF8.self)
            while let newline = pendingText.firstIndex(of: "\n") {
                let line = pendingText[..<newline]
                pendingText.removeSubrange(...newline)
                if line.hasPrefix("committed "), let n = Int(line.dropFirst("committed ".count)) {
                    lastCommitted = n
                    commitsSeen += 1
                }
            }
        }
        XCTAssertTrue(child.isRunning, "the child should still be recording when killed")
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        XCTAssertEqual(child.terminationReason, .uncaughtSignal, "the child must die by SIGKILL, mid-stream")
        XCTAssertGreaterThan(lastCommitted, 0, "the child never reported a committed flush")
        print("crash test: child reported \(lastCommitted) records committed over \(commitsSeen) flushes before SIGKILL")

        let reader = try TraceReader(path: path)
        XCTAssertFalse(reader.closedCleanly, "a killed writer never marks the trace complete")
        var cursor = try reader.records()
        var expected: SequenceNumber = 1
        while let record = try cursor.next() {
            XCTAssertEqual(record.seq, expected, "records must be contiguous and in order, without duplicates")
            XCTAssertEqual(record, crashChildRecord(record.seq), "record \(record.seq) is torn")
            if record.seq != expected { break }
            expected += 1
        }
        let count = Int(expected - 1)
        print("crash test: \(count) records read back")
        XCTAssertGreaterThanOrEqual(count, lastCommitted, "every record up to the last completed flush must be present")
    }
}
