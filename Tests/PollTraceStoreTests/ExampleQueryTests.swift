import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The four example queries of docs/schema.md, run against a trace written by
/// `TraceWriter`: the seed bug under the naive policy (batch [10, 11, 12]; fd 10's
/// handler closes fd 12; fd 11's handler opens a new fd 12; the third event goes to
/// the new fd 12's handler), plus a second poller with a dozen handlers so that
/// (d)'s LIMIT matters. The expected answers are computed in Swift from the records.
final class ExampleQueryTests: XCTestCase {
    private var dir: TemporaryDirectory!
    private var path: String!
    private var records: [TraceRecord] = []

    override func setUpWithError() throws {
        dir = TemporaryDirectory()
        path = dir.file("seed.trace")
        let s = SequenceCounter()
        let t0 = Fixtures.start
        var r: [TraceRecord] = []
        func open(_ fd: Int32, _ origin: FDOrigin, poller: PollerID = 1) { r.append(.fdOpened(FDOpened(seq: s.next(), timeNs: t0 + 1, poller: poller, fd: fd, origin: origin))) }
        func register(_ id: RegistrationID, _ fd: Int32, _ interest: IOEvents, _ label: String, poller: PollerID = 1) {
            r.append(.registered(Registered(seq: s.next(), timeNs: t0 + 2, poller: poller, registrationID: id, fd: fd, interest: interest,
                                            data: UInt64(fd), handlerLabel: label)))
        }
        func batch(_ fds: [(Int32, IOEvents)], number: UInt64, poller: PollerID = 1) -> SequenceNumber {
            let seq = s.next()
            r.append(.batch(BatchHarvested(seq: seq, timeNs: t0 + 3, poller: poller, batchNumber: number, timeoutMs: -1, waitedNs: 10,
                                           events: fds.map { HarvestedEvent(fd: $0.0, mask: $0.1, data: UInt64($0.0)) })))
            return seq
        }
        func dispatch(_ batchSeq: SequenceNumber, _ index: UInt32, ran: RegistrationID, _ duration: UInt64, poller: PollerID = 1,
                      source: PollTraceCore.DispatchSource = .event, effects: () -> Void = {}) {
            let seq = s.next()   // taken when the dispatch starts, before its side effects
            effects()
            r.append(.dispatch(Dispatch(seq: seq, timeNs: t0 + 4, poller: poller, source: source, batchSeq: batchSeq,
                                        eventIndex: index, ranRegistrationID: ran, deliveredMask: .readable, suppression: nil,
                                        handlerThrew: false, durationNs: duration)))
        }
        open(10, .socket); register(1, 10, .readable, "control-api")
        open(11, .socket); register(2, 11, .readable, "tcp-listener")
        open(12, .socket); register(3, 12, .writable, "rtp-udp:40000")
        let b1 = batch([(10, .readable), (11, .readable), (12, .writable)], number: 1)
        dispatch(b1, 0, ran: 1, 500) {
            r.append(.unregistered(Unregistered(seq: s.next(), timeNs: t0 + 5, poller: 1, registrationID: 3, fd: 12)))
            r.append(.closed(Closed(seq: s.next(), timeNs: t0 + 5, poller: 1, fd: 12)))
        }
        dispatch(b1, 1, ran: 2, 300) { open(12, .socket); register(4, 12, .readable, "rtp-tcp:40000") }
        dispatch(b1, 2, ran: 4, 100)   // the bug: the old fd 12's event runs the new handler
        let b2 = batch([(12, .readable)], number: 2)
        dispatch(b2, 0, ran: 4, 50)
        dispatch(0, 0, ran: 99, 1_000, source: .timer)
        // Poller 2: twelve handlers with distinct total times.
        for i in 0..<12 {
            open(Int32(100 + i), .accept, poller: 2)
            register(RegistrationID(200 + i), Int32(100 + i), .readable, "h\(i)", poller: 2)
        }
        let b3 = batch((0..<12).map { (Int32(100 + $0), .readable) }, number: 1, poller: 2)
        for i in 0..<12 { dispatch(b3, UInt32(i), ran: RegistrationID(200 + i), UInt64(37 * ((i * 7) % 12) + 1), poller: 2) }
        records = r
        try Fixtures.write(r.shuffled(), to: path, sequence: s)
    }

    private func rows(_ sql: String, bind: [String: SQLiteValue] = [:]) throws -> [[SQLiteValue]] {
        let reader = try TraceReader(path: path)
        let statement = try reader.connection.makeStatement(sql: sql)
        XCTAssertTrue(statement.isReadOnly, "an example query must be read-only")
        for (name, value) in bind { XCTAssertTrue(statement.bind(value, named: name), "no parameter \(name)") }
        var out: [[SQLiteValue]] = []
        while try statement.step() { out.append((0..<statement.columnCount).map { statement.value($0) }) }
        return out
    }

    private func plan(_ sql: String) throws -> String {
        let reader = try TraceReader(path: path)
        let statement = try reader.connection.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
        var lines: [String] = []
        while try statement.step() { lines.append(statement.text(3)) }
        return lines.joined(separator: "\n")
    }

    func testA_everyBatchWithItsEvents_inOrder() throws {
        var expected: [[SQLiteValue]] = []
        for case .batch(let b) in records {
            for (i, e) in b.events.enumerated() {
                expected.append([.integer(Int64(b.seq)), .integer(Int64(b.poller)), .integer(Int64(b.batchNumber)), .integer(Int64(i)),
                                 .integer(Int64(e.fd)), .text(e.mask.description), .integer(Int64(e.data))])
            }
        }
        XCTAssertEqual(try rows(ExampleQueries.batchesWithEvents), expected, "(a) one row per event, batches in seq order")
    }

    func testB_dispatchesWhoseFDWasClosedAfterTheHarvest_findTheSeedBug() throws {
        // The model: for each event dispatch, the first close of its fd strictly between batch and dispatch.
        var batches: [SequenceNumber: BatchHarvested] = [:]
        var closes: [(SequenceNumber, Int32)] = []
        for record in records {
            if case .batch(let b) = record { batches[b.seq] = b }
            if case .closed(let c) = record { closes.append((c.seq, c.fd)) }
        }
        var expected: [[Int64]] = []
        for case .dispatch(let d) in records.sorted(by: { $0.seq < $1.seq }) where d.source == .event {
            let fd = batches[d.batchSeq]!.events[Int(d.eventIndex)].fd
            if let close = closes.filter({ $0.1 == fd && $0.0 > d.batchSeq && $0.0 < d.seq }).map(\.0).min() {
                expected.append([Int64(d.seq), Int64(d.batchSeq), Int64(fd), Int64(d.ranRegistrationID), Int64(close)])
            }
        }
        XCTAssertEqual(expected.count, 1, "the scenario has exactly one misrouted dispatch")
        let got = try rows(ExampleQueries.dispatchesAfterClose)
        XCTAssertEqual(got.map { [$0[0], $0[2], $0[4], $0[5], $0[8]] }, expected.map { $0.map(SQLiteValue.integer) },
                       "(b) should list exactly the dispatches whose fd closed between harvest and dispatch")
        XCTAssertEqual(got.first?[6], .text("rtp-tcp:40000"), "(b) the handler that wrongly ran is the new fd 12's")
        // Per dispatch, the closes are found by a search on fd and seq range, never by
        // scanning every close: the dispatches are scanned once.
        let queryPlan = try plan(ExampleQueries.dispatchesAfterClose)
        let scans = queryPlan.split(separator: "\n").filter { $0.contains("SCAN") }.map { $0.trimmingCharacters(in: .whitespaces) }
        XCTAssertEqual(scans, ["SCAN d"], "(b) should scan the dispatches once and search everything else:\n\(queryPlan)")
        XCTAssertTrue(queryPlan.contains("fd_closes_by_fd (fd=? AND rowid>? AND rowid<?)"),
                      "(b) should find the closes by fd and seq range:\n\(queryPlan)")
    }

    func testE_misrouted_isOneShortQuery_withTheWholeStory() throws {
        var closeSeq: SequenceNumber = 0, reopenSeq: SequenceNumber = 0, misroutedSeq: SequenceNumber = 0
        for record in records.sorted(by: { $0.seq < $1.seq }) {
            if case .closed(let c) = record, c.fd == 12, closeSeq == 0 { closeSeq = c.seq }
            if case .fdOpened(let o) = record, o.fd == 12, closeSeq != 0, reopenSeq == 0 { reopenSeq = o.seq }
            if case .dispatch(let d) = record, d.ranRegistrationID == 4, misroutedSeq == 0 { misroutedSeq = d.seq }
        }
        XCTAssertEqual(try rows(ExampleQueries.misrouted), [[
            .integer(Int64(misroutedSeq)), .integer(1), .integer(12), .text("rtp-udp:40000"), .text("rtp-tcp:40000"),
            .integer(Int64(closeSeq)), .text("control-api"), .integer(Int64(reopenSeq)), .text("tcp-listener"),
        ]], "(e) the seed's misrouted dispatch: harvested for the old fd 12, ran the new one; closed by fd 10's handler, reused by fd 11's")
        XCTAssertEqual(try rows("SELECT verdict, harvested_registration_id, ran_registration_id FROM dispatches WHERE seq = \(misroutedSeq)"),
                       [[.text("misrouted"), .integer(3), .integer(4)]], "the dispatch row carries the verdict and both registrations")
    }

    func testF_findingsByKind_equalsReplay() throws {
        var replayer = Replayer(options: ReplayOptions(maxDetailed: nil))
        for record in records.sorted(by: { $0.seq < $1.seq }) { replayer.consume(record) }
        replayer.finish()
        let expected = replayer.counts.filter { $0.key != .correct }.sorted { $0.key.rawValue < $1.key.rawValue }
            .map { [SQLiteValue.text($0.key.rawValue), .integer(Int64($0.value))] }
        XCTAssertFalse(expected.isEmpty)
        XCTAssertEqual(try rows(ExampleQueries.findingsByKind), expected, "(f) findings by kind should equal replay's counts")
        XCTAssertEqual(try rows("SELECT count(*) FROM dispatches WHERE verdict = 'correct'"),
                       [[.integer(Int64(replayer.counts[.correct] ?? 0))]], "correct dispatches carry the verdict")
    }

    func testC_registrationsAliveAtEverySeq_matchTheModel() throws {
        let sorted = records.sorted { $0.seq < $1.seq }
        var alive: [RegistrationID: Registered] = [:]
        for record in sorted {
            switch record {
            case .registered(let r): alive[r.registrationID] = r
            case .unregistered(let u): alive[u.registrationID] = nil
            case .closed(let c): alive = alive.filter { $0.value.fd != c.fd }
            default: break
            }
            let expected = alive.values.sorted { ($0.poller, $0.fd) < ($1.poller, $1.fd) }.map { Int64($0.registrationID) }
            let got = try rows(ExampleQueries.registrationsAliveAt, bind: [":n": .integer(Int64(record.seq))]).map { row -> Int64 in
                guard case .integer(let id) = row[0] else { return -1 }
                return id
            }
            XCTAssertEqual(got, expected, "(c) registrations alive at seq \(record.seq)")
        }
    }

    func testD_topTenHandlersByTotalDispatchTime() throws {
        var labels: [RegistrationID: String] = [:]
        var total: [String: (count: Int, ns: UInt64)] = [:]
        for case .registered(let r) in records { labels[r.registrationID] = r.handlerLabel }
        for case .dispatch(let d) in records where d.suppression == nil {
            let name = d.source == .event ? labels[d.ranRegistrationID]! : "\(d.source == .timer ? "timer" : "task") \(d.ranRegistrationID)"
            total[name, default: (0, 0)].count += 1
            total[name, default: (0, 0)].ns += d.durationNs
        }
        let expected = total.sorted { $0.value.ns > $1.value.ns }.prefix(10).map {
            [SQLiteValue.text($0.key), .integer(Int64($0.value.count)), .integer(Int64($0.value.ns))]
        }
        XCTAssertGreaterThan(total.count, 10, "the scenario needs more than ten handlers for LIMIT to matter")
        XCTAssertEqual(try rows(ExampleQueries.topHandlersByTime), Array(expected), "(d) top ten handlers by total time")
    }

    func testDocsShowTheseQueriesVerbatim() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/schema.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for (name, sql) in ExampleQueries.all {
            XCTAssertTrue(text.contains(sql), "docs/schema.md should show example query \(name) exactly as ExampleQueries has it")
        }
    }

    /// The "more questions" of docs/schema.md: each runs, and the ones about
    /// verdicts agree with replay.
    func testTheDocsMoreQuestions_runAndAgreeWithReplay() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/schema.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let block = try XCTUnwrap(text.components(separatedBy: "More questions").last?.components(separatedBy: "```sql\n").dropFirst().first?
            .components(separatedBy: "```").first)
        var statements: [String] = []
        var current = ""
        for line in block.split(separator: "\n") where !line.hasPrefix("--") {
            current += line + "\n"
            if line.hasSuffix(";") { statements.append(current); current = "" }
        }
        XCTAssertGreaterThanOrEqual(statements.count, 7, "docs/schema.md's more questions: \(block)")
        let misroutedSeq = try rows("SELECT seq FROM findings WHERE kind = 'misrouted'")[0][0]
        for sql in statements {
            let got = try rows(sql, bind: sql.contains(":s") ? [":s": misroutedSeq] : [:])
            if sql.contains("verdict = 'misrouted'") {
                XCTAssertEqual(got, [[.text("rtp-udp"), .text("rtp-tcp"), .integer(1)]], "misrouted by kind: \(sql)")
            }
            if sql.contains("FROM timeline WHERE seq BETWEEN") {
                XCTAssertTrue(got.contains { $0[0] == misroutedSeq }, "the timeline around the finding holds it")
            }
        }
    }

    /// The "Indexes" table of docs/schema.md names exactly the indexes a trace has.
    func testTheDocsIndexTableNamesEveryIndex() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/schema.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        let section = try XCTUnwrap(text.components(separatedBy: "\n## Indexes\n").last?.components(separatedBy: "\n## ").first)
        var documented: [String] = []
        for line in section.split(separator: "\n") where line.hasPrefix("| `") {
            let nameCell = line.split(separator: "|")[0]
            documented += nameCell.split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        }
        let actual = try rows("SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL ORDER BY name").map { row -> String in
            guard case .text(let name) = row[0] else { return "" }
            return name
        }
        XCTAssertEqual(documented.sorted(), actual, "docs/schema.md's index table against the trace's indexes")
    }

    func testEveryViewRuns() throws {
        for view in ["poller_info", "timeline", "fd_opens", "fd_closes", "modifications", "unregistrations", "registrations",
                     "batches", "batch_events", "dispatches", "handler_time", "gaps", "failed_calls", "syscalls", "findings"] {
            XCTAssertNoThrow(try rows("SELECT * FROM \(view)"), "view \(view) should run")
        }
        XCTAssertEqual(try rows("SELECT count(*) FROM timeline"), [[.integer(Int64(records.count))]], "timeline has one row per record")
    }
}
