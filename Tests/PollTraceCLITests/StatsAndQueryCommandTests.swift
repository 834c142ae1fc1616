import Foundation
import XCTest

final class StatsAndQueryCommandTests: XCTestCase {
    func testStats_json_countsRecordsPollersBatchesAndReuse() throws {
        let r = try CLI.run(["stats", "--json", try CLITraces.multiPoller()])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try XCTUnwrap(CLI.json(r.stdout) as? [String: Any])
        let records = try XCTUnwrap(object["records"] as? [String: Any])
        XCTAssertEqual(records["total"] as? Int, 3 * 14)
        XCTAssertEqual((object["pollers"] as? [[String: Any]])?.map { $0["policy"] as? String }, ["naive", "snapshot", "guarded"])
        let reuse = try XCTUnwrap(object["fd_reuse"] as? [String: Any])
        XCTAssertEqual(reuse["total"] as? Int, 3, "each poller's UDP number was reused once")
        let text = try CLI.run(["stats", try CLITraces.multiPoller()])
        XCTAssertTrue(text.stdout.contains("poller 2: epoll, policy snapshot, 1 batches, 3 dispatches"), text.stdout)
        XCTAssertTrue(text.stdout.contains("gaps: 0 gap records"), text.stdout)
    }

    func testQuery_printsATable_csv_andJSON() throws {
        let path = try CLITraces.seed(.naive)
        let table = try CLI.run(["query", path, "SELECT seq, fd FROM fd_opens ORDER BY seq"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertEqual(table.stdout, "seq  fd\n---  --\n1    10\n3    11\n5    12\n12   12\n(4 rows)\n")
        let csv = try CLI.run(["query", "--csv", path, "SELECT seq, fd FROM fd_opens ORDER BY seq LIMIT 2"])
        XCTAssertEqual(csv.stdout, "seq,fd\r\n1,10\r\n3,11\r\n")
        let json = try CLI.run(["query", "--json", path, "SELECT seq, fd FROM fd_opens ORDER BY seq LIMIT 2"])
        let rows = try XCTUnwrap(CLI.json(json.stdout) as? [[String: Any]])
        XCTAssertEqual(rows.map { $0["fd"] as? Int }, [10, 11])
    }

    func testQuery_refusesWrites_andLeavesTheTraceUnchanged() throws {
        let path = try CLITraces.seed(.naive)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        for sql in ["DELETE FROM dispatches", "DROP TABLE dispatches", "UPDATE dispatches SET duration_ns = 0",
                    "INSERT INTO findings(kind, seq, poller, detail) VALUES ('x', 1, 1, 'x')", "PRAGMA user_version = 9",
                    "SELECT 1; DELETE FROM dispatches", "CREATE TABLE x(a)"] {
            let r = try CLI.run(["query", path, sql])
            XCTAssertEqual(r.status, 2, "\(sql) must be refused with exit 2")
            XCTAssertTrue(r.stderr.contains(path), "the error names the file: \(r.stderr)")
            XCTAssertEqual(r.stdout, "", "nothing is printed for a refused statement")
        }
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "the trace file is byte-for-byte unchanged")
        let count = try CLI.run(["query", "--csv", path, "SELECT count(*) AS n FROM timeline"])
        XCTAssertEqual(count.stdout, "n\r\n14\r\n", "every record is still there")
    }

    func testBadInput_getsAClearErrorNamingTheFile_andExit2() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-tests-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let text = dir.appendingPathComponent("not-a-trace.txt").path
        try "hello, not sqlite\n".write(toFile: text, atomically: true, encoding: .utf8)
        let empty = dir.appendingPathComponent("empty.trace").path
        XCTAssertTrue(FileManager.default.createFile(atPath: empty, contents: Data()))
        // A directory of its own: other tests leave their traces in `dir`.
        let traceDir = dir.appendingPathComponent("a-directory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: traceDir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: traceDir) }
        let inside = traceDir.appendingPathComponent("only.trace").path
        XCTAssertTrue(FileManager.default.createFile(atPath: inside, contents: Data()))
        for (args, expected) in [(["analyze", "/nonexistent/x.trace"], "no such file"),
                                 (["verify", text], "not a SQLite database"),
                                 (["stats", empty], "empty"),
                                 (["query", text, "SELECT 1"], "not a SQLite database"),
                                 (["verify", traceDir.path], "a directory, not a trace file; it holds 1 trace file, the newest \(inside)"),
                                 // analyze takes a directory's traces: here one, an empty file.
                                 (["analyze", traceDir.path], "\(inside): the file is empty")] {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 2, "\(args): bad input exits 2")
            XCTAssertTrue(r.stderr.contains(args[1]) && r.stderr.contains(expected), "\(args): \(r.stderr)")
        }
        let query = try CLI.run(["query", try CLITraces.seed(.naive), "SELEKT nothing"])
        XCTAssertEqual(query.status, 2)
        XCTAssertTrue(query.stderr.contains("syntax error"), query.stderr)
    }

    func testUsageErrors_exit2() throws {
        for args in [["analyze"], ["verify"], ["query", "x.trace"], ["stats", "--bogus", "x"], ["nonsense-verb"]] {
            let r = try CLI.run(args)
            XCTAssertEqual(r.status, 2, "\(args): usage errors exit 2; stderr: \(r.stderr)")
            XCTAssertFalse(r.stderr.isEmpty, "\(args): the usage error is explained on stderr")
        }
    }
}
