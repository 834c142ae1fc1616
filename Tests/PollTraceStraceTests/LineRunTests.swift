import Foundation
import PollTraceCore
import PollTraceStore
import PollTraceStrace
import XCTest

/// The trace stores each record's log origin as runs of consecutive lines
/// (`strace_line_runs`); the `strace_lines` view must still give every record
/// exactly the origin the importer gave it, however threads and processes
/// interleave, and the file analysis must read the same origins back.
final class LineRunTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    struct Row: Equatable, CustomStringConvertible {
        var seq: UInt64, line: UInt32, tid: Int32, fdTable: UInt32
        var description: String { "seq \(seq): line \(line) tid \(tid) table \(fdTable)" }
    }

    /// Imports `log` to a file; returns the view's rows, the in-memory origins, and the run count.
    func importBothWays(_ log: String, name: String) throws -> (view: [Row], expected: [Row], runs: Int64, report: String) {
        let logPath = dir.appendingPathComponent(name + ".strace").path
        try log.write(toFile: logPath, atomically: true, encoding: .utf8)
        let trace = dir.appendingPathComponent(name + ".trace").path
        let summary = try StraceTraceImport.importLog(logPath: logPath, tracePath: trace)
        let expected = StraceImport.analyze(text: log).records.map {
            Row(seq: $0.0.seq, line: $0.1.line, tid: $0.1.tid, fdTable: $0.1.fdTable)
        }
        let reader = try TraceReader(path: trace)
        let rows = try reader.connection.makeStatement(sql: "SELECT seq, line, tid, fd_table FROM strace_lines ORDER BY seq")
        var view: [Row] = []
        while try rows.step() {
            view.append(Row(seq: UInt64(rows.int64(0)), line: UInt32(rows.int64(1)), tid: Int32(rows.int64(2)),
                            fdTable: UInt32(rows.int64(3))))
        }
        let runs = try reader.connection.scalarInt(sql: "SELECT count(*) FROM strace_line_runs") ?? -1
        let fromFile = try ForeignTraceAnalysis.analyze(reader: reader)
        XCTAssertEqual(fromFile.renderJSON(), summary.report.renderJSON(),
                       "\(name): the analysis of the file reads back the origins the import used")
        return (view, expected, runs, summary.report.renderJSON())
    }

    func testCommittedLogs_viewGivesEveryRecordItsImportedOrigin() throws {
        let logs = StraceFixtures.directory.appendingPathComponent("logs")
        let names = try FileManager.default.contentsOfDirectory(atPath: logs.path).sorted().filter { $0.hasSuffix(".strace") }
        XCTAssertFalse(names.isEmpty, "the committed excerpts are missing")
        for name in names {
            let text = try String(contentsOf: logs.appendingPathComponent(name), encoding: .utf8)
            let result = try importBothWays(text, name: name)
            XCTAssertFalse(result.expected.isEmpty, "\(name) imports records")
            XCTAssertEqual(result.view, result.expected, "\(name): strace_lines differs from the importer's origins")
        }
    }

    func testOneThreadOnConsecutiveLines_isOneRun() throws {
        var log = "300 epoll_create1(0) = 3\n"
        for i in 0..<500 { log += "300 read(4, \"x\", 1) = \(i % 2)\n" }
        let result = try importBothWays(log, name: "one-run")
        XCTAssertEqual(result.view.count, 501)
        XCTAssertEqual(result.view, result.expected)
        XCTAssertEqual(result.runs, 1, "501 records on 501 consecutive lines of one thread make a single run")
    }

    /// Three threads sharing a table and a forked child, their lines interleaved at
    /// random, with split calls, lines that make two records (close of a registered
    /// fd) and lines that make none (signals): runs break at every change.
    func testRandomInterleavingOfThreadsAndProcesses_viewMatchesTheImporter() throws {
        let seed = ProcessInfo.processInfo.environment["POLLTRACE_FUZZ_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 0...UInt64.max)
        print("LineRunTests seed: \(seed) (replay with POLLTRACE_FUZZ_SEED=\(seed))")
        var random = SplitMix64(seed: seed)
        for round in 0..<5 {
            var log = """
            400 epoll_create1(0) = 3
            400 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0}, 88) = 401
            400 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0}, 88) = 402
            400 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f5e4a1e9a10) = 403

            """
            var unfinished: Set<Int> = []
            for _ in 0..<300 {
                let tid = 400 + Int.random(in: 0...3, using: &random)
                let fd = 5 + Int.random(in: 0...3, using: &random) + (tid - 400) * 4
                if unfinished.contains(tid) {
                    log += "\(tid) <... epoll_wait resumed>[{events=EPOLLIN, data={u32=\(fd), u64=\(fd)}}], 8, -1) = 1\n"
                    unfinished.remove(tid)
                    continue
                }
                switch Int.random(in: 0..<8, using: &random) {
                case 0: log += "\(tid) socket(AF_INET, SOCK_STREAM, IPPROTO_TCP) = \(fd)\n"
                case 1: log += "\(tid) epoll_ctl(3, EPOLL_CTL_ADD, \(fd), {events=EPOLLIN, data={u32=\(fd), u64=\(fd)}}) = 0\n"
                case 2: log += "\(tid) close(\(fd)) = 0\n"
                case 3: log += "\(tid) epoll_wait(3,  <unfinished ...>\n"; unfinished.insert(tid)
                case 4: log += "\(tid) --- SIGPIPE {si_signo=SIGPIPE, si_code=SI_USER} ---\n"
                default: log += "\(tid) read(\(fd), \"x\", 1) = 1\n"
                }
            }
            let result = try importBothWays(log, name: "random-\(round)")
            XCTAssertEqual(result.view, result.expected, "seed \(seed) round \(round): strace_lines differs from the importer's origins")
            XCTAssertLessThanOrEqual(result.runs, Int64(result.expected.count), "seed \(seed): never more runs than records")
        }
    }

    /// The seed's committed strace log, imported as `NAME.trace`, with the import's
    /// own report (which has a finding, so comparisons with it mean something).
    private func importSeedLog(as name: String) throws -> (trace: String, summary: StraceTraceImport.Summary) {
        let log = try String(contentsOf: StraceFixtures.directory.appendingPathComponent("logs/seed-6.13-o-f-ttt-T.strace"),
                             encoding: .utf8)
        let logPath = dir.appendingPathComponent("\(name).strace").path
        try log.write(toFile: logPath, atomically: true, encoding: .utf8)
        let trace = dir.appendingPathComponent("\(name).trace").path
        let summary = try StraceTraceImport.importLog(logPath: logPath, tracePath: trace)
        XCTAssertGreaterThan(summary.report.findings.count, 0, "the seed's log has a finding to compare")
        return (trace, summary)
    }

    /// A large import is analysed from seq ranges read on the reading threads: made
    /// to count as large here, with ranges of a few seqs, it must give the import's
    /// own report exactly (the hazard rules see the records in the same order).
    func testAnalysisReadInRanges_equalsTheImportsReport() throws {
        try XCTSkipIf(TraceReader.readingThreads < 2, "one core: traces are read on one thread, there are no ranges to test")
        let (trace, summary) = try importSeedLog(as: "ranges")
        let reader = try TraceReader(path: trace)
        for rangeSize: UInt64 in [1, 3, 50] {
            XCTAssertNotNil(try reader.recordRanges(minimumRecords: 1, rangeSize: rangeSize), "the import is read in ranges")
            XCTAssertEqual(try ForeignTraceAnalysis.analyze(reader: reader, largeFrom: 1, rangeSize: rangeSize).renderJSON(),
                           summary.report.renderJSON(), "ranges of \(rangeSize)")
        }
    }

    /// Traces imported before the runs existed have `strace_lines` as a table with a
    /// row per record; `polltrace analyze` must still read them.
    func testTraceWithTheOlderLinesTable_analysesTheSame() throws {
        let (trace, summary) = try importSeedLog(as: "old")
        let db = try SQLiteConnection(path: trace, readOnly: false)
        try db.execute(sql: """
            CREATE TABLE old_lines AS SELECT seq, line, tid, fd_table FROM strace_lines;
            DROP VIEW strace_lines;
            DROP TABLE strace_line_runs;
            CREATE TABLE strace_lines(seq INTEGER PRIMARY KEY, line INTEGER NOT NULL, tid INTEGER NOT NULL,
                                      fd_table INTEGER NOT NULL);
            INSERT INTO strace_lines SELECT * FROM old_lines;
            DROP TABLE old_lines;
            """)
        let reader = try TraceReader(path: trace)
        XCTAssertEqual(try ForeignTraceAnalysis.analyze(reader: reader).renderJSON(), summary.report.renderJSON(),
                       "a trace with one strace_lines row per record reads as before")
    }
}
