import PollTraceCore
@testable import PollTraceStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// `PlainTraceWriter` (an import's writer): rows made on the appending thread,
/// inserted on the writer's, handed over a lot at a time. Every record must arrive,
/// in order, however the appends and hand-overs fall; a failure on either side must
/// surface as an error and leave no file that looks like a trace.
final class PlainTraceWriterTests: XCTestCase {
    private func records(count: Int, _ random: inout SplitMix64) -> [TraceRecord] {
        (1...count).map { i in
            let seq = UInt64(i)
            let fd = Int32(3 + random.next() % 40)
            switch random.next() % 3 {
            case 0: return .fdOpened(FDOpened(seq: seq, timeNs: seq * 10, poller: 1, fd: fd, origin: .accept))
            case 1: return .closed(Closed(seq: seq, timeNs: seq * 10, poller: 1, fd: fd))
            default:
                return .syscall(SyscallRecord(seq: seq, timeNs: seq * 10, poller: 1, tid: 7, fd: fd,
                                              name: random.chance(0.5) ? "read" : "a_name_longer_than_fifteen_bytes",
                                              result: Int64(random.next() % 100), errno: 0, isDataCall: true,
                                              sourceLine: UInt32(i)))
            }
        }
    }

    func testRandomAppendsAndLotSizes_giveEveryRecordBack_inOrder() throws {
        let dir = TemporaryDirectory()
        for seed: UInt64 in 1...12 {
            var random = SplitMix64(seed: seed)
            let all = records(count: 3_000, &random)
            let path = dir.file("lots-\(seed).trace")
            // Lots from one row (a hand-over per record, the writer thread always
            // behind) to more rows than the trace has (one hand-over, at close).
            let rowsPerLot = [1, 7, 64, 1_000, 10_000][Int(seed % 5)]
            let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none, rowsPerLot: rowsPerLot)
            var start = 0
            while start < all.count {
                let end = min(all.count, start + 1 + Int(random.next() % 100))
                if random.chance(0.5) {
                    try writer.append(contentsOf: Array(all[start..<end]))
                } else {
                    for record in all[start..<end] { try writer.append(record) }
                }
                start = end
            }
            let summary = try writer.close()
            XCTAssertEqual(summary.records, UInt64(all.count), "seed \(seed)")
            XCTAssertEqual(try Fixtures.readAll(path), all, "seed \(seed) (lots of \(rowsPerLot) rows): every record, in order")
            XCTAssertFalse(FileManager.default.fileExists(atPath: path + ".writing"), "seed \(seed): no temporary file is left")
        }
    }

    func testAppendAfterClose_isRefused_andTheTraceKeepsWhatCameBefore() throws {
        let dir = TemporaryDirectory()
        var random = SplitMix64(seed: 99)
        let all = records(count: 10, &random)
        let path = dir.file("closed.trace")
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none)
        try writer.append(contentsOf: Array(all[0..<4]))
        try writer.close()
        XCTAssertThrowsError(try writer.append(all[4])) { error in
            XCTAssertTrue("\(error)".contains("after the trace was closed"), "\(error)")
        }
        XCTAssertNoThrow(try writer.close(), "a second close returns the first one's result")
        XCTAssertEqual(try Fixtures.readAll(path), Array(all[0..<4]))
    }

    func testARecordOutOfOrder_isRefused_andCloseThrowsAndLeavesNoFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("out-of-order.trace")
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(pollers: []), verdicts: .none)
        try writer.append(.closed(Closed(seq: 5, timeNs: 10, poller: 1, fd: 3)))
        XCTAssertThrowsError(try writer.append(.closed(Closed(seq: 4, timeNs: 11, poller: 1, fd: 4)))) { error in
            XCTAssertTrue("\(error)".contains("arrived after record 5"), "\(error)")
        }
        XCTAssertThrowsError(try writer.append(.closed(Closed(seq: 6, timeNs: 12, poller: 1, fd: 5))),
                             "once a record was refused the trace is incomplete: later ones are refused too")
        XCTAssertThrowsError(try writer.close(), "a trace missing a record must not be published")
        XCTAssertThrowsError(try writer.close(), "a second close gives the first one's result")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [], "no trace and no temporary file")
    }

    func testAPollerStartedAfterRows_getsItsRow() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("pollers.trace")
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none, rowsPerLot: 3)
        var random = SplitMix64(seed: 3)
        try writer.append(contentsOf: records(count: 20, &random))
        writer.pollerStarted(PollerInfo(poller: 2, backend: "epoll", policy: nil, epollFD: 9, label: "second"))
        try writer.append(.closed(Closed(seq: 21, timeNs: 210, poller: 2, fd: 4)))
        try writer.close()
        XCTAssertEqual(try Fixtures.query(path, "SELECT poller, epoll_fd, label FROM pollers ORDER BY poller"),
                       [[.integer(1), .integer(3), .text("main")], [.integer(2), .integer(9), .text("second")]])
    }

    func testATableAddedAtCloseThatFails_leavesNoFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("adding.trace")
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none)
        var random = SplitMix64(seed: 4)
        try writer.append(contentsOf: records(count: 100, &random))
        struct Refused: Error {}
        XCTAssertThrowsError(try writer.close { db in
            try db.execute(sql: "CREATE TABLE extra(x)")
            throw Refused()
        })
        XCTAssertThrowsError(try writer.close())
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testAnExistingTrace_isKept_unlessOverwriteIsAsked() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("existing.trace")
        var random = SplitMix64(seed: 6)
        let first = records(count: 10, &random)
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none)
        try writer.append(contentsOf: first)
        try writer.close()
        XCTAssertThrowsError(try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none)) { error in
            XCTAssertTrue("\(error)".contains("already exists"), "\(error)")
        }
        XCTAssertEqual(try Fixtures.readAll(path), first, "the refused writer left the trace as it was")
        let second = Array(records(count: 20, &random).prefix(5))
        let replacing = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none, overwrite: true)
        try replacing.append(contentsOf: second)
        try replacing.close()
        XCTAssertEqual(try Fixtures.readAll(path), second)
    }

    func testAWriterDroppedWithoutClose_leavesNoFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("dropped.trace")
        var random = SplitMix64(seed: 5)
        do {
            let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none, rowsPerLot: 16)
            try writer.append(contentsOf: records(count: 500, &random))
        }
        for name in [path, path + ".writing"] {
            XCTAssertFalse(FileManager.default.fileExists(atPath: name), "\(name) must not be left behind")
        }
    }

    /// A real full disk (a 1 MiB tmpfs; tests run as root): the writer thread's
    /// insert fails once SQLite has to write its pages out, the appending side
    /// hears of it on a later append, `close` throws too, and nothing is left.
    func testAFullDisk_stopsTheAppends_andLeavesNoFile() throws {
        let dir = TemporaryDirectory()
        let mountPoint = try Fixtures.smallDisk(in: dir, megabytes: 1)
        defer { Fixtures.unmount(mountPoint) }
        let path = mountPoint + "/full.trace"
        let writer = try PlainTraceWriter(path: path, metadata: Fixtures.metadata(), verdicts: .none, rowsPerLot: 512)
        var appendFailure: (any Error)?
        // Bounded: 2M small records are far more than 1 MiB holds (SQLite writes
        // its pages out once its 16 MiB cache is full).
        for seq in 1...UInt64(2_000_000) {
            do {
                try writer.append(.closed(Closed(seq: seq, timeNs: seq, poller: 1, fd: Int32(3 + seq % 100))))
            } catch {
                appendFailure = error
                break
            }
        }
        let failure = try XCTUnwrap(appendFailure, "the appends must hear of the full disk")
        XCTAssertTrue("\(failure)".contains("full"), "the error says the disk is full: \(failure)")
        XCTAssertThrowsError(try writer.close(), "close reports the failed write too")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: mountPoint), [], "no file is left on the full disk")
    }
}
