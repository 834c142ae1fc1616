import Foundation
import PollTraceCore
import XCTest
@testable import PollTraceStore

/// A fresh directory per test, removed afterwards.
final class TemporaryDirectory {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "polltrace-store-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { path + "/" + name }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

enum Fixtures {
    /// Runs `tool` (mount, umount: the tests run as root) and returns its exit
    /// status, or -1 if it could not be started.
    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Mounts a tmpfs of `megabytes` at `dir/small-disk` (a real full disk for the
    /// tests; they run as root) and returns its path; the caller unmounts it with
    /// `unmount`. Skips the test where mounting is refused.
    static func smallDisk(in dir: TemporaryDirectory, megabytes: Int) throws -> String {
        let mountPoint = dir.file("small-disk")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", mountPoint]) == 0 else {
            throw XCTSkip("mounting a tmpfs was refused (not root?): the full-disk test needs one")
        }
        return mountPoint
    }

    static func unmount(_ mountPoint: String) { _ = run("/bin/umount", [mountPoint]) }

    static let start: UInt64 = 5_000_000_000

    static func metadata(pollers: [PollerInfo] = [PollerInfo(poller: 1, backend: "epoll", policy: .guarded, epollFD: 3, label: "main")]) -> TraceMetadata {
        TraceMetadata(pid: 4242, program: "store-tests", host: "testhost", startWallClockNs: 1_700_000_000_000_000_000,
                      startMonotonicNs: start, pollers: pollers)
    }

    /// One record of every kind and every enum case, with edge values (negative fds,
    /// full 64-bit words, times before the trace start, empty labels and batches).
    static func everyKind(sequence: SequenceCounter) -> [TraceRecord] {
        var out: [TraceRecord] = []
        func seq() -> SequenceNumber { sequence.next() }
        let t = start
        for origin in FDOrigin.allCases {
            out.append(.fdOpened(FDOpened(seq: seq(), timeNs: t + 10, poller: 1, fd: 12, origin: origin)))
        }
        out.append(.fdOpened(FDOpened(seq: seq(), timeNs: t - 5, poller: 0, fd: -1, origin: .reported)))
        out.append(.registered(Registered(seq: seq(), timeNs: t + 20, poller: 1, registrationID: 7, fd: 12,
                                          interest: [.readable, .edgeTriggered], data: EpollData.pack(registrationID: 7, fd: 12),
                                          handlerLabel: "rtp-udp:40000")))
        out.append(.registered(Registered(seq: seq(), timeNs: t + 21, poller: 2, registrationID: .max, fd: .max,
                                          interest: IOEvents(rawValue: .max), data: .max, handlerLabel: "")))
        out.append(.registered(Registered(seq: seq(), timeNs: t + 22, poller: 1, registrationID: 8, fd: 13,
                                          interest: .writable, data: 13, handlerLabel: "rtp-udp:40000")))
        out.append(.registered(Registered(seq: seq(), timeNs: t + 23, poller: 1, registrationID: 9, fd: 14,
                                          interest: .readable, data: 0xdead_beef_0000_0001, handlerLabel: "ünïcode ✓ label")))
        out.append(.modified(Modified(seq: seq(), timeNs: t + 30, poller: 1, registrationID: 7, fd: 12, interest: [.readable, .writable, .oneShot])))
        let events = [
            HarvestedEvent(fd: 12, mask: [.readable, .hangup], data: EpollData.pack(registrationID: 7, fd: 12)),
            HarvestedEvent(fd: 13, mask: .writable, data: 13),
            HarvestedEvent(fd: -7, mask: IOEvents(rawValue: 0xffff_ffff), data: .max),
            HarvestedEvent(fd: 14, mask: .readable, data: 0),
        ]
        let batchSeq = seq()
        out.append(.batch(BatchHarvested(seq: batchSeq, timeNs: t + 40, poller: 1, batchNumber: 1, timeoutMs: -1, waitedNs: 123_456, events: events)))
        out.append(.batch(BatchHarvested(seq: seq(), timeNs: t + 41, poller: 2, batchNumber: .max, timeoutMs: .min, waitedNs: .max, events: [])))
        for (index, reason) in ([nil] + SuppressionReason.allCases.map { Optional($0) }).enumerated() {
            out.append(.dispatch(Dispatch(seq: seq(), timeNs: t + 50, poller: 1, source: .event, batchSeq: batchSeq,
                                          eventIndex: UInt32(index % events.count), ranRegistrationID: reason == nil ? 7 : 0,
                                          deliveredMask: .readable, suppression: reason, handlerThrew: index == 0, durationNs: 999)))
        }
        for source in DispatchSource.allCases {
            out.append(.dispatch(Dispatch(seq: seq(), timeNs: t + 60, poller: 2, source: source, batchSeq: 0,
                                          eventIndex: .max, ranRegistrationID: .max, deliveredMask: IOEvents(rawValue: .max),
                                          suppression: nil, handlerThrew: true, durationNs: .max)))
        }
        out.append(.unregistered(Unregistered(seq: seq(), timeNs: t + 70, poller: 1, registrationID: 7, fd: 12)))
        out.append(.closed(Closed(seq: seq(), timeNs: t + 71, poller: 1, fd: 12)))
        out.append(.gap(Gap(seq: seq(), timeNs: t + 80, firstLost: 3, lastLost: .max, lostCount: 17, fromTimeNs: 0, toTimeNs: .max)))
        for call in FDCall.allCases {
            out.append(.callFailed(CallFailed(seq: seq(), timeNs: t + 90, poller: 1, call: call, fd: 99, errno: 9)))
        }
        out.append(.syscall(SyscallRecord(seq: seq(), timeNs: t + 100, poller: 0, tid: 1234, fd: 5, name: "accept4",
                                          result: -1, errno: 11, isDataCall: true, sourceLine: 42)))
        out.append(.syscall(SyscallRecord(seq: seq(), timeNs: t + 101, poller: 3, tid: .max, fd: -100, name: "setsockopt",
                                          result: .min, errno: 0, isDataCall: false, sourceLine: .max)))
        out.append(.closed(Closed(seq: seq(), timeNs: t + 102, poller: 1, fd: 13)))
        out.append(.syscall(SyscallRecord(seq: seq(), timeNs: t + 103, poller: 1, tid: 1, fd: 13, name: "accept4",
                                          result: 14, errno: 0, isDataCall: true, sourceLine: 43)))
        return out
    }

    /// Writes `records` (in the order given) and closes the writer.
    @discardableResult
    static func write(_ records: [TraceRecord], to path: String, metadata: TraceMetadata = metadata(),
                      options: TraceWriterOptions = .init(), sequence: SequenceCounter = SequenceCounter()) throws -> TraceWriterStatistics {
        let writer = try TraceWriter(path: path, metadata: metadata, options: options, sequence: sequence)
        for record in records { writer.record(record) }
        try writer.close()
        return writer.statistics
    }

    /// Writes `records` in the recording form's row layout (`RowLayoutFile`), one
    /// commit, and marks it closed as that layout's writer did.
    static func writeRowLayout(_ records: [TraceRecord], to path: String, metadata: TraceMetadata = metadata()) throws {
        let file = try RowLayoutFile(path: path, metadata: metadata, options: TraceWriterOptions())
        var chunk = records
        _ = try file.write(&chunk, pollers: [])
        var statistics = TraceWriterStatistics()
        statistics.recordsWritten = records.count
        try file.finish(statistics: statistics)
    }

    /// What a v7 trace says in SQL about its dispatches: `findings` by kind, and
    /// the correct dispatches (when there are any), keyed as replay's counts are.
    static func verdictsInSQL(_ v7: String) throws -> [String: UInt64] {
        var counts: [String: UInt64] = [:]
        for row in try query(v7, "SELECT kind, count(*) FROM findings GROUP BY kind") {
            if case .text(let kind) = row[0], case .integer(let n) = row[1] { counts[kind] = UInt64(n) }
        }
        if case .integer(let n) = try query(v7, "SELECT count(*) FROM dispatches WHERE verdict = 'correct'")[0][0], n > 0 {
            counts["correct"] = UInt64(n)
        }
        return counts
    }

    /// Replay's counts by kind for `records`, as `polltrace analyze` reports them.
    static func replayCounts(_ records: [TraceRecord]) -> [String: UInt64] {
        var replayer = Replayer(options: ReplayOptions(maxDetailed: nil))
        for record in records { replayer.consume(record) }
        replayer.finish()
        return Dictionary(uniqueKeysWithValues: replayer.counts.map { ($0.key.rawValue, $0.value) })
    }

    /// Every row `sql` returns from the trace at `path`, opened read-only.
    static func query(_ path: String, _ sql: String) throws -> [[SQLiteValue]] {
        let reader = try TraceReader(path: path)
        let statement = try reader.connection.makeStatement(sql: sql)
        var out: [[SQLiteValue]] = []
        while try statement.step() { out.append((0..<statement.columnCount).map { statement.value($0) }) }
        return out
    }

    static func readAll(_ path: String) throws -> [TraceRecord] {
        let reader = try TraceReader(path: path)
        var cursor = try reader.records()
        var out: [TraceRecord] = []
        while let record = try cursor.next() { out.append(record) }
        return out
    }
}

/// Runs one test of this very test bundle in a child process, with `path` in the
/// environment under `environmentKey`: how the crash and write-failure tests get a
/// recorder they can SIGKILL or starve of disk without touching the test process.
func startChildTest(_ testName: String, environmentKey: String, path: String) throws -> (process: Process, output: Pipe) {
    let child = Process()
    child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    child.arguments = [testName]
    child.environment = ProcessInfo.processInfo.environment.merging([environmentKey: path]) { $1 }
    let output = Pipe()
    child.standardOutput = output
    child.standardError = FileHandle.nullDevice
    try child.run()
    return (child, output)
}
