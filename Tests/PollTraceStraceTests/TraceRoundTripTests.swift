import Foundation
import PollTraceCore
import PollTraceStore
import PollTraceStrace
import XCTest

/// An imported log becomes a real trace file; analysing the file gives the same
/// findings as analysing the log while importing it.
final class TraceRoundTripTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func testImportedSeedTrace_analysedFromTheFile_matchesTheImportFindings() throws {
        let program = try StraceFixtures.compile("seed_loop", into: dir)
        let log = try StraceFixtures.record(program, in: dir)
        let trace = dir.appendingPathComponent("seed.trace").path
        let summary = try StraceTraceImport.importLog(logPath: log, tracePath: trace)
        XCTAssertEqual(summary.report.count(.likelyStaleDispatch), 1)

        let reader = try TraceReader(path: trace)
        XCTAssertTrue(ForeignTraceAnalysis.isImported(reader))
        XCTAssertEqual(reader.metadata.pollers.map(\.backend), ["strace"])
        XCTAssertEqual(reader.metadata.pollers.first?.epollFD, 3)
        // A log shows syscalls, not how the loop picks a handler: the policy is
        // unknown, never a made-up one, in the metadata and in SQL.
        XCTAssertEqual(reader.metadata.pollers.map(\.policy), [nil])
        XCTAssertEqual(reader.metadata.pollers.map(\.policyName), ["unknown"])
        XCTAssertEqual(try reader.connection.scalarInt(sql: "SELECT count(*) FROM poller_info WHERE policy_code = 0 AND policy = 'unknown'"), 1)
        let fromFile = try ForeignTraceAnalysis.analyze(reader: reader)
        XCTAssertEqual(fromFile.findings, summary.report.findings, "the file holds everything the analysis needs")
        XCTAssertEqual(fromFile.statistics, summary.report.statistics)
        XCTAssertEqual(fromFile.renderJSON(), summary.report.renderJSON(), "rendering is deterministic")

        // Every record has its line; syscalls keep theirs in the record too.
        var cursor = try reader.records()
        var kinds: [RecordKind: Int] = [:]
        var sawStaleRead = false
        while let record = try cursor.next() {
            kinds[record.kind, default: 0] += 1
            if case .syscall(let call) = record, call.name == "read", call.fd == 8 {
                XCTAssertEqual(call.errno, 11)
                XCTAssertTrue(call.isDataCall)
                XCTAssertEqual([call.sourceLine], try StraceFixtures.lines(containing: "read(8,", in: log))
                sawStaleRead = true
            }
        }
        XCTAssertTrue(sawStaleRead, "the stale read is in the trace as a syscall record")
        XCTAssertEqual(kinds[.registered], 4, "control, listener, udp, and the accepted connection")
        XCTAssertEqual(kinds[.unregistered], 1, "only the udp DEL: the program exits without closing the rest")
        XCTAssertEqual(kinds[.batch], 2)
        let lineRows = try reader.connection.scalarInt(sql: "SELECT count(*) FROM strace_lines")
        XCTAssertEqual(lineRows.map(Int.init), summary.recordsWritten)
    }

    /// Traces imported by older importers (committed in `traces/`, each from a log in
    /// `logs/`) still read: the same records as importing the log today, and the
    /// same findings from the file. v3 came before syscalls and fd pairs were packed
    /// across calls; v4 packs them (`syscall_rows.more`, `fd_records.h`), and the
    /// python log (`echo_churn.py`: 40 connections through a selectors loop, with
    /// its client thread in the same process) has both kinds of packed rows.
    func testOlderImportedTraces_readAsTheSameRecordsAndFindings() throws {
        // `bothV4Packings`: the fixture must hold packed syscalls and packed fd opens,
        // or it would not test them.
        let fixtures: [(trace: String, log: String, version: Int, staleDispatches: Int, bothV4Packings: Bool)] = [
            ("seed-6.13-o-f-ttt-T.v3.trace", "seed-6.13-o-f-ttt-T.strace", 3, 1, false),
            ("seed-6.13-o-f-ttt-T.v4.trace", "seed-6.13-o-f-ttt-T.strace", 4, 1, false),
            ("echo-churn-python.v4.trace", "echo-churn-python.strace", 4, 0, true),
        ]
        for fixture in fixtures {
            let path = StraceFixtures.directory.appendingPathComponent("traces/\(fixture.trace)").path
            let log = StraceFixtures.directory.appendingPathComponent("logs/\(fixture.log)").path
            let before = try Data(contentsOf: URL(fileURLWithPath: path))
            let reader = try TraceReader(path: path)
            XCTAssertEqual(reader.metadata.schemaVersion, fixture.version, "\(fixture.trace) is a v\(fixture.version) file")
            // These importers stored naive as a placeholder; it reads as unknown.
            XCTAssertEqual(try reader.connection.scalarInt(sql: "SELECT min(policy) FROM pollers"), 1, "\(fixture.trace) has the old placeholder")
            XCTAssertTrue(reader.metadata.pollers.allSatisfy { $0.policy == nil }, "\(fixture.trace): \(reader.metadata.pollers)")
            var cursor = try reader.records()
            var fromFile: [TraceRecord] = []
            while let record = try cursor.next() { fromFile.append(record) }
            let collector = OriginCollector()
            _ = try StraceImport.run(path: log, sequence: SequenceCounter(), consumers: [collector])
            XCTAssertEqual(fromFile, collector.records.map(\.0), "\(fixture.trace) must read back as the records the log imports to")
            let syscalls = fromFile.filter { if case .syscall = $0 { true } else { false } }.count
            XCTAssertGreaterThan(syscalls, 0, "\(fixture.trace) has syscalls")
            let report = try ForeignTraceAnalysis.analyze(reader: reader)
            XCTAssertEqual(report.count(.likelyStaleDispatch), fixture.staleDispatches, "\(fixture.trace): stale dispatches found from the file")
            XCTAssertEqual(try reader.connection.scalarInt(sql: "SELECT count(*) FROM syscalls"), Int64(syscalls), "\(fixture.trace): the syscalls view")
            if fixture.bothV4Packings {
                XCTAssertGreaterThan(try reader.connection.scalarInt(sql: "SELECT count(*) FROM syscall_rows WHERE more IS NOT NULL") ?? 0, 0)
                XCTAssertGreaterThan(try reader.connection.scalarInt(sql: "SELECT count(*) FROM fd_records WHERE h IS NOT NULL") ?? 0, 0)
            }
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "reading must not change \(fixture.trace)")
        }
    }

    func testAnalyzeOnANonImportedTrace_isAClearError() throws {
        let trace = dir.appendingPathComponent("plain.trace").path
        let writer = try TraceWriter(path: trace, metadata: TraceMetadata(pid: 1, program: "t", host: "h",
                                                                            startWallClockNs: 0, startMonotonicNs: 0))
        writer.pollerStarted(PollerInfo(poller: 1, backend: "epoll", policy: .naive, epollFD: 3))
        try writer.close()
        let reader = try TraceReader(path: trace)
        XCTAssertFalse(ForeignTraceAnalysis.isImported(reader))
        XCTAssertThrowsError(try ForeignTraceAnalysis.analyze(reader: reader)) { error in
            XCTAssertTrue("\(error)".contains("not an imported strace trace"), "\(error)")
        }
    }
}
