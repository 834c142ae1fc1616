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
