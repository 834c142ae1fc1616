import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// `query` as a SQL user drives it (files, stdin, comments, parameters, timing) and
/// `finalize`/`upgrade`, which make the v7 tables of a trace that lacks them.
final class QueryAndFinalizeCommandTests: XCTestCase {
    private func temporary(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-cli-query-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("\(UUID().uuidString)-\(name)").path
        return path
    }

    func testQuery_readsSQLFromAFileOrStdin_withCommentsAround() throws {
        let path = try CLITraces.seed(.naive)
        let sql = "-- the opens\n/* of the seed */ SELECT seq, fd FROM fd_opens ORDER BY seq LIMIT 2; -- done\n"
        let file = temporary("opens.sql")
        try sql.write(toFile: file, atomically: true, encoding: .utf8)
        let expected = "seq,fd\r\n1,10\r\n3,11\r\n"
        let fromFile = try CLI.run(["query", "--csv", path, "--file", file])
        XCTAssertEqual(fromFile.status, 0, fromFile.stderr)
        XCTAssertEqual(fromFile.stdout, expected, "a file with comments before and after the statement")
        let fromStdin = try CLI.run(["query", "--csv", path, "-"], stdin: sql)
        XCTAssertEqual(fromStdin.status, 0, fromStdin.stderr)
        XCTAssertEqual(fromStdin.stdout, expected, "- reads the statement from standard input")
        let both = try CLI.run(["query", path, "SELECT 1", "--file", file])
        XCTAssertEqual(both.status, 2, "an argument and --file together are a usage error")
    }

    func testQuery_refusesAnUnboundParameter_andBindsParam() throws {
        let path = try CLITraces.seed(.naive)
        let sql = "SELECT seq FROM fd_opens WHERE fd = :fd ORDER BY seq"
        let unbound = try CLI.run(["query", path, sql])
        XCTAssertEqual(unbound.status, 2, "an unbound parameter is refused, not bound to NULL")
        XCTAssertTrue(unbound.stderr.contains(":fd") && unbound.stderr.contains("--param fd="), unbound.stderr)
        XCTAssertEqual(unbound.stdout, "")
        let bound = try CLI.run(["query", "--csv", path, sql, "--param", "fd=12"])
        XCTAssertEqual(bound.status, 0, bound.stderr)
        XCTAssertEqual(bound.stdout, "seq\r\n5\r\n12\r\n", "--param binds the number")
        let bad = try CLI.run(["query", path, sql, "--param", "fd"])
        XCTAssertEqual(bad.status, 2, "--param without = is a usage error")
    }

    func testQuery_timer_printsTheElapsedTimeOnStderr_only() throws {
        let path = try CLITraces.seed(.naive)
        let r = try CLI.run(["query", "--csv", "--timer", path, "SELECT count(*) AS n FROM timeline"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, "n\r\n14\r\n", "the rows are unchanged")
        XCTAssertNotNil(r.stderr.range(of: #"elapsed: \d+\.\d{3} s"#, options: .regularExpression), r.stderr)
    }

    func testQuery_findingsEqualAnalyze() throws {
        let path = try CLITraces.multiPoller()
        let analyze = try CLI.run(["analyze", "--json", path])
        let summary = try XCTUnwrap((CLI.json(analyze.stdout) as? [String: Any])?["summary"] as? [String: Any])
        let rows = try CLI.run(["query", "--json", path, "SELECT kind, count(*) AS n FROM findings GROUP BY kind"])
        XCTAssertEqual(rows.status, 0, rows.stderr)
        var counts: [String: Int] = [:]
        for row in try XCTUnwrap(CLI.json(rows.stdout) as? [[String: Any]]) { counts[row["kind"] as! String] = row["n"] as? Int }
        let correct = try CLI.run(["query", "--csv", path, "SELECT count(*) FROM dispatches WHERE verdict = 'correct'"])
        counts["correct"] = Int(correct.stdout.split(separator: "\r\n")[1])
        for kind in FindingKind.allCases {
            XCTAssertEqual(counts[kind.rawValue] ?? 0, summary[kind.rawValue] as? Int, "\(kind): findings and analyze --json disagree")
        }
        XCTAssertGreaterThan(counts["misrouted"] ?? 0, 0, "the naive poller's seed interleaving is misrouted")
    }

    /// A trace whose writer never closed it: analyze reads it, query refuses it and
    /// names the command, finalize makes the v7 tables with every committed record.
    func testUnclosedTrace_analyzes_queryNamesFinalize_andFinalizeKeepsEveryRecord() throws {
        let path = temporary("unclosed.trace")
        let records = CLITraces.seedRecords(.naive)
        try CLITraces.writeUnclosed(records, to: path)
        let analyze = try CLI.run(["analyze", path])
        XCTAssertEqual(analyze.status, 1, "the seed's misrouted dispatch is found in the recording form: \(analyze.stderr)")
        XCTAssertTrue(analyze.stdout.contains("schema v6, no SQL tables yet (`polltrace finalize` makes them)"), analyze.stdout)
        let refused = try CLI.run(["query", path, "SELECT count(*) FROM dispatches"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("polltrace finalize \(path) -o"), refused.stderr)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let output = temporary("finalized.sqlite")
        let finalize = try CLI.run(["finalize", path, "-o", output])
        XCTAssertEqual(finalize.status, 0, finalize.stderr)
        XCTAssertTrue(finalize.stdout.contains("\(records.count) records"), finalize.stdout)
        XCTAssertTrue(finalize.stdout.contains("not closed by its writer"), finalize.stdout)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "finalize only reads its input")
        let reader = try TraceReader(path: output)
        var cursor = try reader.records()
        var read: [TraceRecord] = []
        while let record = try cursor.next() { read.append(record) }
        XCTAssertEqual(read, records.sorted { $0.seq < $1.seq }, "every committed record, in order")
        let stats = try CLI.run(["stats", output])
        XCTAssertTrue(stats.stdout.contains(", schema v7\n"), "a v7 trace's header names no command: \(stats.stdout)")
        let ended = try CLI.run(["query", "--csv", output, "SELECT value FROM meta WHERE key = 'ended'"])
        XCTAssertEqual(ended.stdout, "value\r\nnot_closed\r\n", "the v7 trace says how its source ended")
        let misrouted = try CLI.run(["query", "--csv", output, "SELECT count(*) FROM findings WHERE kind = 'misrouted'"])
        XCTAssertEqual(misrouted.stdout, "count(*)\r\n1\r\n")

        let again = try CLI.run(["finalize", path, "-o", output])
        XCTAssertEqual(again.status, 2, "an existing output needs --force")
        let same = try CLI.run(["finalize", output, "-o", output, "--force"])
        XCTAssertEqual(same.status, 2, "the output cannot be the input")
        let already = try CLI.run(["upgrade", output, "-o", temporary("again.sqlite")])
        XCTAssertEqual(already.status, 2, "a v7 trace needs no upgrade")
        XCTAssertTrue(already.stderr.contains("nothing to do"), already.stderr)
    }
}
