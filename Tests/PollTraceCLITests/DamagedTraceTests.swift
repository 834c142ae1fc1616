import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// Traces damaged after they were written, or cut short while being written: every
/// verb says so (exit 2 naming the file) or says how the trace ended, never a
/// silent answer about part of it.
final class DamagedTraceTests: XCTestCase {
    private func copy(_ path: String, _ name: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-damaged-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let target = dir.appendingPathComponent("\(UUID().uuidString)-\(name)").path
        try FileManager.default.copyItem(atPath: path, toPath: target)
        return target
    }

    private func sql(_ path: String, _ statement: String) throws {
        try SQLiteConnection(path: path, readOnly: false).execute(sql: statement)
    }

    func testRecordsDeletedFromAClosedTrace_areBadInput_notClean() throws {
        let path = try copy(try CLITraces.multiPoller(), "deleted.trace")
        try sql(path, "DELETE FROM dispatches WHERE seq > (SELECT max(seq) - 5 FROM dispatches)")
        for verb in ["analyze", "verify", "stats"] {
            let r = try CLI.run([verb, path])
            XCTAssertEqual(r.status, 2, "\(verb): a trace missing records its writer wrote is bad input; stdout: \(r.stdout)")
            XCTAssertTrue(r.stderr.contains(path) && r.stderr.contains("records were removed or added"), "\(verb): \(r.stderr)")
        }
    }

    func testEveryReport_saysHowTheTraceEnded() throws {
        let closed = try CLI.run(["analyze", try CLITraces.seed(.guarded)])
        XCTAssertTrue(closed.stdout.contains("the trace was closed by its writer"), closed.stdout)
        let unclosedPath = FileManager.default.temporaryDirectory.appendingPathComponent("unclosed-\(UUID().uuidString).trace").path
        try CLITraces.writeUnclosed(CLITraces.seedRecords(.guarded), to: unclosedPath)
        for verb in ["analyze", "verify", "stats"] {
            let r = try CLI.run([verb, unclosedPath])
            XCTAssertTrue(r.stdout.contains("not closed by its writer"), "\(verb) must say the trace was not closed: \(r.stdout)")
        }
        let json = try CLI.run(["analyze", "--json", unclosedPath])
        let ended = try XCTUnwrap((CLI.json(json.stdout) as? [String: Any])?["ended"] as? [String: Any])
        XCTAssertEqual(ended["how"] as? String, "not_closed")
        XCTAssertEqual(ended["wal_missing"] as? Bool, false, "its -wal is beside it")
    }

    func testALaterTraceWithoutItsFDTable_isCorrupted_notAnOlderLayout() throws {
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("TraceFixtures")
        let path = try copy(fixtures.appendingPathComponent("demo-naive.v5.sqlite").path, "no-fd-records.sqlite")
        try sql(path, "DROP TABLE fd_records")
        let r = try CLI.run(["analyze", path])
        XCTAssertEqual(r.status, 2, "a v5 trace without fd_records must not be read as v1's layout: \(r.stdout)")
        XCTAssertTrue(r.stderr.contains("fd_records table is missing"), r.stderr)
    }

    func testOutOfRangeValues_areCorrupted_inBothForms() throws {
        // The recording form: its first chunk made one fd open whose poller id is 2^42
        // (kind 1, seq and time distances 0, the poller as a 7-byte varint, fd -1, origin 1).
        let compact = FileManager.default.temporaryDirectory.appendingPathComponent("poller-\(UUID().uuidString).trace").path
        try CLITraces.writeUnclosed(CLITraces.seedRecords(.naive), to: compact)
        try sql(compact, """
            UPDATE record_chunks SET bytes = X'0100008080808080800101', record_count = 1, last_seq = first_seq
            WHERE first_seq = (SELECT min(first_seq) FROM record_chunks)
            """)
        let r1 = try CLI.run(["analyze", compact])
        XCTAssertEqual(r1.status, 2, r1.stdout)
        XCTAssertTrue(r1.stderr.contains("out of range"), r1.stderr)
        // The v7 tables: a gap whose first lost seq is after its last.
        let plain = try copy(try CLITraces.seed(.naive), "gap.trace")
        try sql(plain, "INSERT INTO gaps(seq, rel_ns, first_lost_seq, last_lost_seq, lost_count, from_rel_ns, to_rel_ns) VALUES (1000, 0, 9, 7, 3, 0, 0)")
        try sql(plain, "UPDATE meta SET value = value + 1 WHERE key = 'records'")
        let r2 = try CLI.run(["analyze", plain])
        XCTAssertEqual(r2.status, 2, r2.stdout)
        XCTAssertTrue(r2.stderr.contains("first lost seq 9 is after its last 7"), r2.stderr)
    }
}
