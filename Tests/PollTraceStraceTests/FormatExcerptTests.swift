import Foundation
import PollTraceCore
import PollTraceStrace
import XCTest

/// Committed excerpts of the seed's batch, as each strace version and flag set
/// prints it. Every format must import to the same records and the same finding;
/// only line numbers, threads and times differ, and those are checked per format.
final class FormatExcerptTests: XCTestCase {
    static let logs = StraceFixtures.directory.appendingPathComponent("logs")

    func load(_ name: String) throws -> (report: ForeignReport, records: [(TraceRecord, LineOrigin)]) {
        let text = try String(contentsOf: Self.logs.appendingPathComponent(name), encoding: .utf8)
        return StraceImport.analyze(text: text)
    }

    /// What a record says about fds and epoll, without where or when.
    static func describe(_ record: TraceRecord) -> String? {
        switch record {
        case .fdOpened(let r): "open fd=\(r.fd) origin=\(r.origin)"
        case .closed(let r): "close fd=\(r.fd)"
        case .registered(let r): "add reg=\(r.registrationID) fd=\(r.fd) \(r.interest) data=\(r.data)"
        case .modified(let r): "mod reg=\(r.registrationID) fd=\(r.fd) \(r.interest)"
        case .unregistered(let r): "del reg=\(r.registrationID) fd=\(r.fd)"
        case .batch(let r): "batch#\(r.batchNumber) timeout=\(r.timeoutMs) "
            + r.events.map { "\($0.fd):\($0.mask)" }.joined(separator: ",")
        case .syscall(let r) where r.name.hasPrefix("+++"): nil
        case .syscall(let r): "call \(r.name) fd=\(r.fd) = \(r.result)\(r.errno != 0 ? " errno=\(r.errno)" : "")"
            + (r.isDataCall ? " data" : "")
        case .callFailed(let r): "failed \(r.call) fd=\(r.fd) errno=\(r.errno)"
        case .dispatch, .gap: "unexpected \(record.kind)"
        }
    }

    /// The seed's batch, read off the program in Tests/StraceFixtures/seed_loop.c.
    static let expectedRecords = [
        "open fd=3 origin=epoll", "open fd=4 origin=pipe", "open fd=5 origin=pipe", "open fd=6 origin=socket",
        "call bind fd=6 = 0", "call listen fd=6 = 0", "open fd=7 origin=socket", "call connect fd=7 = 0",
        "open fd=8 origin=socket", "call write fd=5 = 7 data",
        "add reg=1 fd=4 IN data=4", "add reg=2 fd=6 IN data=6", "add reg=3 fd=8 OUT data=8",
        "batch#1 timeout=1000 4:IN,6:IN,8:OUT",
        "call read fd=4 = 7 data", "del reg=3 fd=8", "close fd=8",
        "call accept4 fd=6 = 8 data", "open fd=8 origin=accept", "add reg=4 fd=8 IN data=8",
        "call read fd=8 = -1 errno=11 data", "batch#2 timeout=0 ",
    ]

    func assertSeedImport(_ name: String, wait: UInt32, close: UInt32, reuse: UInt32, access: UInt32,
                          tid: Int32, file: StaticString = #filePath, line: UInt = #line) throws {
        let (report, records) = try load(name)
        XCTAssertEqual(records.compactMap { Self.describe($0.0) }, Self.expectedRecords,
                       "\(name) imports to the seed's records", file: file, line: line)
        XCTAssertEqual(report.diagnostics?.total, 0, "\(name) reads cleanly: \(report.diagnostics?.summary ?? [])",
                       file: file, line: line)
        XCTAssertEqual(report.findings.count, 1, report.renderText(), file: file, line: line)
        let finding = try XCTUnwrap(report.findings.first)
        XCTAssertEqual(finding.kind, .likelyStaleDispatch, file: file, line: line)
        XCTAssertEqual(finding.fd, 8, file: file, line: line)
        XCTAssertEqual(finding.tid, tid, "the thread", file: file, line: line)
        XCTAssertEqual([finding.waitLine, finding.closeLine, finding.reuseLine, finding.accessLine],
                       [wait, close, reuse, access], "wait, close, reuse, access lines of \(name)", file: file, line: line)
        XCTAssertEqual(Set(records.map(\.1.fdTable)), [1], "one process, one fd table", file: file, line: line)
    }

    func testBefore5_11_bareEventFormat_noPrefixes() throws {
        try assertSeedImport("seed-pre5.11.strace", wait: 13, close: 16, reuse: 17, access: 19, tid: 0)
    }

    func test5_11_terminalDashF_withTT_splitCallsAndLatePidPrefix() throws {
        // Lines 1-10 have no prefix (one thread so far); the thread is then named
        // 4242. The wait (line 16) and a read (19) are split around thread 4243's lines.
        try assertSeedImport("seed-5.11-f-terminal-tt.strace", wait: 16, close: 23, reuse: 24, access: 26, tid: 4242)
        let (report, records) = try load("seed-5.11-f-terminal-tt.strace")
        XCTAssertEqual(report.diagnostics?.stitchedCalls, 3, "clone3, epoll_wait and read were stitched")
        XCTAssertEqual(Set(records.map(\.1.tid)), [0, 4242],
                       "records made before the thread was named carry tid 0; 4243 made no fd calls")
        XCTAssertTrue(records.contains { if case .syscall(let c) = $0.0 { c.name == threadRenamedCallName && c.tid == 4242 } else { false } },
                      "the importer records that the unprefixed thread is 4242")
        let batch = records.first { $0.0.kind == .batch }!
        XCTAssertEqual(batch.0.timeNs, 10 * 3_600_000_000_000 + 100_629_000, "-tt time the wait returned (its resumed line)")
    }

    func test6_13_hexData_bareDashOPidPrefix_withTTTAndT() throws {
        try assertSeedImport("seed-6.13-o-f-ttt-T.strace", wait: 13, close: 16, reuse: 17, access: 19, tid: 4242)
        let (_, records) = try load("seed-6.13-o-f-ttt-T.strace")
        guard case .batch(let batch) = records.first(where: { $0.0.kind == .batch })!.0 else { return XCTFail() }
        XCTAssertEqual(batch.waitedNs, 22_000, "-T <0.000022> is the time the wait blocked")
        XCTAssertEqual(batch.timeNs, 1_795_812_356_100_444_000, "-ttt time of the wait")
    }

    func test5_11_dashT_withYYAnnotations() throws {
        try assertSeedImport("seed-5.11-t-yy.strace", wait: 13, close: 16, reuse: 17, access: 19, tid: 0)
        let (_, records) = try load("seed-5.11-t-yy.strace")
        let labels = records.compactMap { record -> String? in
            if case .registered(let r) = record.0 { return r.handlerLabel }
            return nil
        }
        XCTAssertEqual(labels, ["pipe:[18414]", "TCP:[127.0.0.1:40859]", "UDP:[18430]",
                                "TCP:[127.0.0.1:40859->127.0.0.1:51234]"],
                       "-yy annotations (with `->` inside) become handler labels")
        let batch = records.first { $0.0.kind == .batch }!
        XCTAssertEqual(batch.0.timeNs, 10 * 3_600_000_000_000 + 12_000_000_000, "-t time of day, whole seconds")
    }
}
