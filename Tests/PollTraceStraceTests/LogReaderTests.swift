import Foundation
import PollTraceCore
@testable import PollTraceStrace
import XCTest

/// The log reader's bounds: a line past the limit is skipped and counted, memory
/// stays at the limit whatever the input, and a pipe is read like a file.
final class LogReaderTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    /// A named pipe in `dir` that a thread fills with `log` once a reader opens it.
    private func fifoWriting(_ log: String, named name: String) throws -> String {
        let fifo = dir.appendingPathComponent(name).path
        guard mkfifo(fifo, 0o600) == 0 else { throw StraceLogError(path: fifo, reason: "mkfifo failed") }
        Thread {
            if let handle = FileHandle(forWritingAtPath: fifo) {
                handle.write(Data(log.utf8))
                try? handle.close()
            }
        }.start()
        return fifo
    }

    func testOverlongLine_isSkippedAndNumbered_andTheLinesAroundItAreRead() throws {
        let path = dir.appendingPathComponent("long.strace").path
        let long = String(repeating: "x", count: 10_000)
        try "first\n\(long)\nthird\n\(long)".write(toFile: path, atomically: true, encoding: .utf8)
        let reader = try LogReader(path: path, maxLineBytes: 4096)
        var lines: [String] = []
        var numbers: [UInt32] = []
        var overlong: [UInt32] = []
        try reader.forEachLine({ line, number in
            lines.append(String(decoding: line, as: UTF8.self)); numbers.append(number)
        }, overlong: { overlong.append($0) })
        XCTAssertEqual(lines, ["first", "third"])
        XCTAssertEqual(numbers, [1, 3])
        XCTAssertEqual(overlong, [2, 4], "both long lines are reported, the last one without its newline too")
    }

    func testLineWithoutNewline_ofAnyLength_keepsTheBufferAtTheLimit() throws {
        // 64 MB of zero bytes, no newline, through a 1 MB limit.
        let path = dir.appendingPathComponent("zeros").path
        FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        let reader = try LogReader(path: path, maxLineBytes: 1 << 20)
        var called = 0
        var overlong: [UInt32] = []
        try reader.forEachLine({ _, _ in called += 1 }, overlong: { overlong.append($0) })
        XCTAssertEqual(called, 0)
        XCTAssertEqual(overlong, [1])
        XCTAssertLessThanOrEqual(reader.bufferCapacity, 1 << 20, "the buffer never grows past the line limit")
    }

    func testImport_countsAnOverlongLineAsUnreadable() throws {
        let path = dir.appendingPathComponent("log.strace").path
        let junk = String(repeating: "{events=EPOLLIN, data=0x5}, ", count: 1_000_000)
        try """
        100 epoll_create1(0) = 3
        100 epoll_wait(3, [\(junk)], 8, -1) = 1
        100 eventfd2(0, EFD_NONBLOCK) = 5

        """.write(toFile: path, atomically: true, encoding: .utf8)
        let report = try StraceImport.analyze(path: path)
        XCTAssertEqual(report.diagnostics?.counts[.lineTooLong], 1, report.renderText())
        XCTAssertEqual(report.diagnostics?.lines[.lineTooLong], [2])
        XCTAssertEqual(report.statistics.batches, 0)
    }

    /// Progress counts every byte read, in order, against the file's size; a pipe
    /// has no size, and the import says once, at the end, that the log is read.
    func testImportProgress_countsTheWholeLog_fromAFileAndAPipe() throws {
        let logPath = StraceFixtures.directory.appendingPathComponent("logs/seed-6.13-o-f-ttt-T.strace").path
        let size = UInt64(try FileManager.default.attributesOfItem(atPath: logPath)[.size] as! Int)
        // A file read in many small pieces: a reader whose lines span its buffer.
        let path = dir.appendingPathComponent("big.strace").path
        let log = try String(contentsOfFile: logPath, encoding: .utf8)
        try String(repeating: log, count: 2_000).write(toFile: path, atomically: true, encoding: .utf8)
        let bigSize = size * 2_000
        var seen: [(UInt64?, UInt64?)] = []
        _ = try StraceTraceImport.importLog(logPath: path, tracePath: dir.appendingPathComponent("big.trace").path,
                                            progress: { seen.append(($0, $1)) })
        let reads = seen.compactMap(\.0)
        XCTAssertGreaterThan(reads.count, 2, "a \(bigSize)-byte log is reported in several reads")
        XCTAssertEqual(reads, reads.sorted(), "bytes read only grow")
        XCTAssertEqual(reads.last, bigSize, "every byte of the log is counted")
        XCTAssertTrue(seen.allSatisfy { $0.1 == bigSize }, "the total is the file's size")
        XCTAssertEqual(seen.filter { $0.0 == nil }.count, 1, "the end of reading is reported once")
        XCTAssertNil(seen.last?.0, "and last")

        let fifo = try fifoWriting(log, named: "progress.fifo")
        var piped: [(UInt64?, UInt64?)] = []
        _ = try StraceTraceImport.importLog(logPath: fifo, tracePath: dir.appendingPathComponent("fifo.trace").path,
                                            progress: { piped.append(($0, $1)) })
        XCTAssertTrue(piped.allSatisfy { $0.1 == nil }, "a pipe has no size")
        XCTAssertEqual(piped.compactMap(\.0).last, size)
    }

    func testImportFromAPipe_readsTheWholeLog() throws {
        let log = try String(contentsOf: StraceFixtures.directory.appendingPathComponent("logs/seed-6.13-o-f-ttt-T.strace"),
                             encoding: .utf8)
        let fifo = try fifoWriting(log, named: "log.fifo")
        let trace = dir.appendingPathComponent("piped.trace").path
        let summary = try StraceTraceImport.importLog(logPath: fifo, tracePath: trace)
        let fromFile = try StraceImport.analyze(path: StraceFixtures.directory
            .appendingPathComponent("logs/seed-6.13-o-f-ttt-T.strace").path)
        XCTAssertEqual(summary.linesRead, UInt32(log.split(separator: "\n", omittingEmptySubsequences: false).count
                                                    - (log.hasSuffix("\n") ? 1 : 0)))
        XCTAssertEqual(summary.report.findings, fromFile.findings, "a pipe imports as the file does")
        XCTAssertEqual(summary.report.findings.map(\.kind), [.likelyStaleDispatch])
    }

    func testImportCommand_readsTheLogFromAPipeOnStandardInput() throws {
        let polltrace = Bundle.main.bundleURL.appendingPathComponent("polltrace")
        guard FileManager.default.isExecutableFile(atPath: polltrace.path) else {
            return XCTFail("the polltrace binary is not built at \(polltrace.path)")
        }
        let log = StraceFixtures.directory.appendingPathComponent("logs/seed-6.13-o-f-ttt-T.strace")
        let trace = dir.appendingPathComponent("stdin.trace").path
        let process = Process()
        process.executableURL = polltrace
        process.arguments = ["import", "/dev/stdin", "-o", trace]
        let input = Pipe()  // a pipe, as in `strace -o /dev/stdout … | polltrace import /dev/stdin`
        process.standardInput = input
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        input.fileHandleForWriting.write(try Data(contentsOf: log))
        try input.fileHandleForWriting.close()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1, "the seed's log has a finding:\n\(text)")
        XCTAssertTrue(text.contains("likely stale dispatches: 1"), text)
    }

    func testDirectoryAsLog_isRefusedBeforeAnyTraceIsWritten() throws {
        let trace = dir.appendingPathComponent("t.trace").path
        XCTAssertThrowsError(try StraceTraceImport.importLog(logPath: dir.path, tracePath: trace)) { error in
            XCTAssertTrue("\(error)".contains("is a directory"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: trace))
    }
}

/// What an import says about the log's timestamps.
final class LogTimestampTests: XCTestCase {
    func testTimestamps_epochTimeOfDayOrNone_andTheNoteSaysWhichTimesAreMeant() {
        let bare = "100 epoll_create1(0) = 3\n"
        let timeOfDay = "100 10:00:01.000001 epoll_create1(0) = 3\n"
        let epoch = "100 1795812356.100333 epoll_create1(0) = 3\n"
        func timestamps(_ text: String) -> LogTimestamps {
            StraceImport.run(text: text, sequence: SequenceCounter(), consumers: []).timestamps
        }
        XCTAssertEqual(timestamps(bare), LogTimestamps.none)
        XCTAssertEqual(timestamps(timeOfDay), .timeOfDay)
        XCTAssertEqual(timestamps(epoch), .epoch)
        XCTAssertNil(LogTimestamps.epoch.note(log: "x"))
        XCTAssertTrue(LogTimestamps.none.note(log: "x")?.contains("every time in the trace is 0") == true)
        XCTAssertTrue(LogTimestamps.timeOfDay.note(log: "x")?.contains("midnight") == true)
    }
}
