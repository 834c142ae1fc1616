import Foundation
import PollTraceCore
import PollTraceStore
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
        let reader = try TraceReader(path: path)
        var cursor = try reader.records()
        var read = 0
        while try cursor.next() != nil { read += 1 }
        XCTAssertEqual(read, count, "every record must be in the file")
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
