import Foundation
import PollTraceCore
@testable import PollTraceStore
import XCTest

/// `TraceWriterOptions.writerPriority`: with `.idle` the writer thread really runs
/// in SCHED_IDLE (the kernel's own view, `/proc`), and still writes every record
/// of a lossless trace; with `.normal` it stays in the normal class.
final class WriterPriorityTests: XCTestCase {
    static let schedIdle = 5, schedNormal = 0

    func testIdleWriter_runsInSchedIdle_andWritesEveryRecord() throws {
        try checkWriter(priority: .idle, expectedPolicy: Self.schedIdle)
    }

    func testNormalWriter_staysInTheNormalClass() throws {
        try checkWriter(priority: .normal, expectedPolicy: Self.schedNormal)
    }

    /// `.adaptive`: idle while the writer keeps up; a recorder that fills its buffer
    /// to half moves it to the normal class (counted in `writerPromotions`); once
    /// recording stops and the writer takes small chunks again, it goes back to idle.
    /// Nothing is lost on the way. Where the process may not take a thread out of
    /// SCHED_IDLE, the writer must stay normal and say why.
    func testAdaptiveWriter_idlesWhileKeepingUp_isPromotedWhenABufferFillsToHalf_andGoesBackToIdle() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("priority-adaptive.trace")
        let before = writerThreadPolicies()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(mode: .lossless, bufferCapacity: 64,
                                                                 flushInterval: .milliseconds(10), writerPriority: .adaptive))
        if let refused = WriterScheduling.returnFromIdleRefused {
            try writer.close()
            XCTAssertEqual(writer.statistics.writerPriority, .normal, "without the right to leave SCHED_IDLE, stay normal")
            XCTAssertTrue(writer.statistics.priorityRefused?.contains(refused) ?? false, "\(writer.statistics)")
            throw XCTSkip("this process may not move a thread out of SCHED_IDLE (\(refused)): checked the fallback only")
        }
        func oneMoreWriter(in policy: Int) -> Bool {
            writerThreadPolicies()[policy, default: 0] == before[policy, default: 0] + 1
        }
        XCTAssertTrue(eventually { oneMoreWriter(in: Self.schedIdle) }, "an adaptive writer with nothing to do must be idle: \(writerThreadPolicies())")
        XCTAssertEqual(writer.statistics.writerPromotions, 0)

        // Far faster than a 10 ms flush: each 32 records fill a shard to half.
        let count = 20_000
        for _ in 0..<count {
            let seq = writer.sequence.next()
            writer.record(.closed(Closed(seq: seq, timeNs: Fixtures.start + seq, poller: 1, fd: 3)))
        }
        XCTAssertGreaterThanOrEqual(writer.statistics.writerPromotions, 1, "a half-full buffer must promote the idle writer")
        XCTAssertTrue(eventually { writer.statistics.recordsWritten == count })
        // Nothing recorded now: the next take is empty, under a quarter of a shard.
        XCTAssertTrue(eventually { oneMoreWriter(in: Self.schedIdle) }, "a writer that caught up must go back to idle: \(writerThreadPolicies())")
        let statistics = writer.statistics
        try writer.close()

        XCTAssertEqual(statistics.writerPriority, .adaptive)
        XCTAssertNil(statistics.priorityRefused)
        XCTAssertEqual(writer.statistics.recordsDropped, 0)
        XCTAssertEqual(try recordsIn(path), count, "every record must be in the file")
    }

    private func recordsIn(_ path: String) throws -> Int {
        var cursor = try TraceReader(path: path).records()
        var read = 0
        while try cursor.next() != nil { read += 1 }
        return read
    }

    private func eventually(_ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if condition() { return true }
            usleep(2_000)
        }
        return condition()
    }

    private func checkWriter(priority: WriterPriority, expectedPolicy: Int) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("priority-\(priority).trace")
        let before = writerThreadPolicies()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(mode: .lossless, bufferCapacity: 64,
                                                                 flushInterval: .milliseconds(10), writerPriority: priority))
        // Far more records than the buffer holds: a lossless recorder must wait
        // for an idle-class writer and lose nothing.
        let count = 20_000
        for _ in 0..<count {
            let seq = writer.sequence.next()
            writer.record(.closed(Closed(seq: seq, timeNs: Fixtures.start + seq, poller: 1, fd: 3)))
        }
        let deadline = Date().addingTimeInterval(10)
        while writer.statistics.recordsWritten < count && Date() < deadline { usleep(1_000) }
        let during = writerThreadPolicies()
        let statistics = writer.statistics
        try writer.close()

        XCTAssertEqual(statistics.writerPriority, priority, "statistics must say the class the writer runs in")
        XCTAssertNil(statistics.priorityRefused)
        // Other tests' writers may be alive: this one adds one thread of its class.
        XCTAssertEqual(during[expectedPolicy, default: 0], before[expectedPolicy, default: 0] + 1,
                       "one more trace-writer thread with policy \(expectedPolicy): before \(before), during \(during)")
        XCTAssertEqual(writer.statistics.recordsWritten, count)
        XCTAssertEqual(writer.statistics.recordsDropped, 0)
        XCTAssertEqual(try recordsIn(path), count, "every record must be in the file")
    }
}

/// How many `trace-writer` threads of this process run in each scheduling policy
/// (field 41 of `/proc/self/task/<tid>/stat`).
func writerThreadPolicies() -> [Int: Int] {
    var policies: [Int: Int] = [:]
    let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    for tid in tids {
        guard let name = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
              name.trimmingCharacters(in: .whitespacesAndNewlines) == "trace-writer",
              let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { continue }
        // Fields after the name start at field 3 (state).
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 38, let policy = Int(fields[38]) else { continue }
        policies[policy, default: 0] += 1
    }
    return policies
}
