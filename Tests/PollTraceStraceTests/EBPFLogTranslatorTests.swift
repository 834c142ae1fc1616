import Foundation
import PollTraceCore
import PollTraceStrace
import XCTest

/// The raw lines of the eBPF recorder, written by hand, through the translator and
/// the importer: what a kernel buffer overflow and an over-long event array become.
final class EBPFLogTranslatorTests: XCTestCase {
    private func importRaw(_ raw: [String]) -> (text: String, outcome: EBPFLogTranslator.Outcome,
                                                 records: [TraceRecord], origins: [LineOrigin],
                                                 diagnostics: ImportDiagnostics) {
        var translator = EBPFLogTranslator(epochOffsetNs: 1_700_000_000_000_000_000)
        for line in raw { translator.feed(Substring(line)) }
        let (text, outcome) = translator.finish()
        let collector = OriginCollector()
        let imported = StraceImport.run(text: text, sequence: SequenceCounter(), consumers: [collector])
        return (text, outcome, collector.records.map(\.0), collector.records.map(\.1), imported.diagnostics)
    }

    func testLostEvents_becomeAGapRecordWithTheirCount_andAreCounted() {
        let r = importRaw([
            "Attaching 6 probes...", "READY",
            "R 10 1000 291 3 0 0 0 0",                // epoll_create1() = 3
            "R 10 2000 41 4 2 1 0 0",                 // socket() = 4
            "V 10 1 4",
            "R 10 3000 233 0 3 1 4 140000000",        // epoll_ctl(3, ADD, 4, {IN, 4})
            "Lost 17 events",
            "V 10 1 4",
            "R 10 4000 232 1 3 140000000 8 -1",       // epoll_wait(3, [{IN, 4}], 8, -1) = 1
        ])
        XCTAssertEqual(r.outcome.lostEvents, 17)
        let gaps = r.records.compactMap { if case .gap(let g) = $0 { g } else { nil } }
        XCTAssertEqual(gaps.map(\.lostCount), [17], r.text)
        let gap = try! XCTUnwrap(gaps.first)
        XCTAssertEqual(gap.firstLost, gap.lastLost)
        XCTAssertLessThan(gap.lastLost, gap.seq, "the lost range comes before its gap record")
        XCTAssertFalse(r.records.contains { $0.seq == gap.firstLost }, "no record holds the lost seq")
        XCTAssertEqual(r.diagnostics.counts[.lostEvents], 1)
        let batches = r.records.compactMap { if case .batch(let b) = $0 { b } else { nil } }
        XCTAssertEqual(batches.count, 1, "the wait after the gap is still read:\n\(r.text)")
    }

    func testMoreEventsThanTheLoopReads_areMarkedAbbreviated() {
        let r = importRaw([
            "R 10 1000 291 3 0 0 0 0",
            "R 10 2000 232 3 3 140000000 8 0",        // 3 returned, none read
        ])
        XCTAssertTrue(r.text.contains("[...]"), r.text)
        XCTAssertEqual(r.diagnostics.counts[.abbreviatedEvents], 1, "\(r.diagnostics.summary)")
    }

    func testLinesOfTwoCPUs_areSortedByReturnTime() {
        let r = importRaw([
            "R 11 5000 3 0 7 0 0 0",                  // close(7), CPU 1, later
            "R 10 1000 41 7 2 1 0 0",                 // socket() = 7, CPU 0, earlier
        ])
        let kinds = r.records.map(\.kind)
        XCTAssertEqual(kinds.first, .fdOpened, "the socket opened before the close:\n\(r.text)")
        XCTAssertEqual(kinds.last, .closed, r.text)
    }

    func testCloneWithCLONE_FILES_sharesTheTable_andAForkCopiesIt() {
        let r = importRaw([
            "R 10 1000 41 5 2 1 0 0",                 // socket() = 5 in the parent
            "F 10 2000 11 4001536",                   // pthread_create's flags (CLONE_FILES among them)
            "F 10 2500 12 17",                        // fork: SIGCHLD only
            "R 11 3000 3 0 5 0 0 0",                  // the thread closes 5: the parent's 5
            "R 12 4000 3 0 5 0 0 0",                  // the child closes its copy of 5
        ])
        XCTAssertTrue(r.text.contains("clone(flags=CLONE_FILES|"), r.text)
        let tables = Dictionary(zip(r.records, r.origins).map { ($0.1.tid, $0.1.fdTable) }, uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(tables[11], tables[10], "the thread shares its creator's fd table:\n\(r.text)")
        XCTAssertNotEqual(tables[12], tables[10], "the forked child has a copy of its own")
        XCTAssertEqual(r.records.filter { $0.kind == .closed }.count, 2, r.text)
        XCTAssertEqual(r.diagnostics.total, 0, "\(r.diagnostics.summary)\n\(r.text)")
    }
}
