import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// `polltrace report`'s library on the seed's interleaving (real dispatcher, real
/// trace file): the diagram must tell the story the analysis found, step by step.
final class HTMLReportTests: XCTestCase {
    func seedTrace(_ policy: DispatchPolicy) throws -> String {
        try TraceFiles.write(SeedInterleavingTests.seedRecords(policy: policy),
                             pollers: [PollerInfo(poller: 1, backend: "epoll", policy: policy)], name: "report-seed-\(policy)")
    }

    /// The text of every `<text>` element of the first sequence diagram, in order.
    static func diagramTexts(_ html: String) -> [String] {
        guard let start = html.range(of: "<svg class=\"seq\""), let end = html.range(of: "</svg>", range: start.upperBound..<html.endIndex) else { return [] }
        let svg = String(html[start.lowerBound..<end.upperBound])
        var texts: [String] = []
        var rest = svg[...]
        while let open = rest.range(of: "<text"), let close = rest.range(of: ">", range: open.upperBound..<rest.endIndex),
              let stop = rest.range(of: "<", range: close.upperBound..<rest.endIndex) {
            texts.append(String(rest[close.upperBound..<stop.lowerBound]))
            rest = rest[stop.lowerBound...].dropFirst()
        }
        return texts
    }

    func testNaiveSeed_reportDrawsHarvestCloseReuseAndTheMisroutedDispatch() throws {
        let path = try seedTrace(.naive)
        defer { TraceFiles.remove(path) }
        let analysis = try TraceAnalysis.analyze(path: path)
        let finding = try XCTUnwrap(analysis.findings.first, "the naive seed has a finding")
        let html = try HTMLReport.generate(path: path)
        let texts = Self.diagramTexts(html)
        let steps = texts.filter { $0.first?.isNumber == true && $0.contains(". ") }
        XCTAssertEqual(steps.count, 4, "harvest, close, reuse, stale dispatch: \(texts)")
        let fd = finding.event.fd
        XCTAssertTrue(steps[0].contains("harvest batch #\(finding.batch.batchNumber)") && steps[0].contains("fd \(fd)"), steps[0])
        XCTAssertTrue(steps[1].contains("close fd \(fd)"), steps[1])
        XCTAssertTrue(steps[2].contains("new fd \(fd)") && steps[2].contains("#\(finding.ran!.registrationID)"), steps[2])
        XCTAssertTrue(steps[3].contains("MISROUTED"), steps[3])
        // The lifelines name the handlers that closed and reused, as replay found them.
        XCTAssertTrue(texts.contains(where: { $0.contains(finding.harvestedFor!.end!.by!.handlerLabel) }), "closing handler: \(texts)")
        XCTAssertTrue(texts.contains(where: { $0.contains(finding.ran!.fdOpenedBy!.handlerLabel) }), "reusing handler: \(texts)")
        // Seq numbers under the steps come from the records.
        XCTAssertTrue(texts.contains("seq \(finding.batch.seq)") && texts.contains("seq \(finding.seq)"), "\(texts)")
        XCTAssertTrue(html.contains("1 stale dispatches (1 misrouted"), "the verdict")
        XCTAssertFalse(html.contains("<script"), "the report needs no script")
        XCTAssertFalse(html.contains("http://") && !html.contains("xmlns=\"http://www.w3.org/2000/svg\""), "nothing fetched")
        for url in ["src=\"http", "href=\"http", "url(http", "@import"] {
            XCTAssertFalse(html.contains(url), "the report fetches nothing (\(url))")
        }
    }

    func testGuardedSeed_reportIsClean_andDrawsTheJustifiedSuppression() throws {
        let path = try seedTrace(.guarded)
        defer { TraceFiles.remove(path) }
        let html = try HTMLReport.generate(path: path)
        XCTAssertTrue(html.contains("class=\"verdict good\""), "guarded is clean")
        let steps = Self.diagramTexts(html).filter { $0.first?.isNumber == true && $0.contains(". ") }
        XCTAssertEqual(steps.last.map { $0.contains("suppressed") && $0.contains("justified_suppression") }, true, "\(steps)")
        XCTAssertTrue(html.contains("Closed cleanly"), "the writer closed this trace")
    }

    func testReport_histogramsCountEveryBatchAndDispatch_byHandlerKind() throws {
        let path = try seedTrace(.naive)
        defer { TraceFiles.remove(path) }
        let html = try HTMLReport.generate(path: path)
        // The seed's handlers: control-api, rtp-tcp-listener:40000 and the new
        // rtp-tcp-accept:40002 each ran once; kinds cut the label at ':'.
        for kind in ["control-api", "rtp-tcp-listener", "rtp-tcp-accept"] {
            XCTAssertTrue(html.contains("<h4>\(kind) <small>1 dispatches</small></h4>"), "kind \(kind)")
        }
        XCTAssertTrue(html.contains("<p>1 batches.</p>"))
        XCTAssertTrue(html.contains("<tr><th>3-4 events</th><td class=\"n\">1</td>"), "the batch of 3 events")
    }

    /// How the trace ended: a gap record's lost records are counted, and a trace
    /// whose writer did not finish says so.
    func testReport_saysHowTheTraceEnded_gapsAndAnUncleanClose() throws {
        var records = SeedInterleavingTests.seedRecords(policy: .naive)
        let last = records.last!.seq
        records.append(.gap(Gap(seq: last + 6, timeNs: (last + 6) * 1000, firstLost: last + 1, lastLost: last + 5, lostCount: 5,
                                fromTimeNs: (last + 1) * 1000, toTimeNs: (last + 5) * 1000)))
        let path = try TraceFiles.write(records, pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .naive)], name: "report-gap")
        defer { TraceFiles.remove(path) }
        let html = try HTMLReport.generate(path: path)
        XCTAssertTrue(html.contains("1 gaps, 5 records lost"), "the gap and what it lost")
        XCTAssertTrue(html.contains("Closed cleanly"))

        // The same file as a crashed writer leaves it: no clean-close mark.
        let db = try SQLiteConnection(path: path, readOnly: false)
        // The report's reader thread may still be closing its read connection.
        try db.execute(sql: "PRAGMA busy_timeout = 10000")
        try db.execute(sql: "UPDATE meta SET value = 0 WHERE key = 'closed_cleanly'")
        try db.execute(sql: "UPDATE meta SET value = 'not_closed' WHERE key = 'ended'")
        XCTAssertEqual(try db.scalarInt(sql: "SELECT count(*) FROM meta WHERE key = 'closed_cleanly'"), 1, "the writer marks a clean close")
        let unclean = try HTMLReport.generate(path: path)
        XCTAssertTrue(unclean.contains("Not closed cleanly"), "a trace whose writer did not finish")
        XCTAssertFalse(unclean.contains("Closed cleanly"))
    }

    func testUnreadableTrace_throwsInsteadOfWritingAReport() {
        let path = TraceFiles.temporaryPath("not-a-trace")
        FileManager.default.createFile(atPath: path, contents: Data("hello".utf8))
        defer { TraceFiles.remove(path) }
        XCTAssertThrowsError(try HTMLReport.generate(path: path))
    }
}
