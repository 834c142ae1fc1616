import ArgumentParser
import Foundation
import PollTraceCore
import PollTraceStore

/// `polltrace-bench store`: the trace store's goals, measured in one
/// run on the same records.
///
/// The unit of the goals is the record (`TraceRecord`). The ceiling is plain SQLite
/// inserting the same records as rows of the recording form's row layout (what a
/// recorder with a row per record, packed, costs); the writer itself stores each
/// commit as record chunks, whose rows are printed beside. The workload is a churning guarded loop: batches of 1–8 events, one
/// dispatch per event, and every fourth iteration a connection closed (unregister +
/// close) and another accepted (open + register).
struct StoreBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Measure trace-store ingest, recording cost, scan speed and size against plain SQLite."
    )

    @Option(help: "Records per run (approximate; the workload is generated in whole loop iterations).")
    var records: Int = 1_200_000

    @Option(help: "Runs; the median is reported.")
    var runs: Int = 3

    @Option(help: "Directory for the trace files (deleted after each run).")
    var directory: String = NSTemporaryDirectory()

    @Option(help: "Writer buffer capacity in records.")
    var bufferCapacity: Int = TraceWriterOptions.defaultBufferCapacity

    @Option(help: "Copy the last run's trace to this path (for inspecting it with sqlite3).")
    var keepTrace: String?

    @Option(help: ArgumentHelp("Only scan this existing trace, --runs times (for profiling the reader).", visibility: .hidden))
    var scanOnly: String?

    @Option(help: ArgumentHelp("Only write the workload in the recording form (not finalized) to this path, then exit (for profiling finalize).", visibility: .hidden))
    var writeRecordingForm: String?

    @Option(help: ArgumentHelp("Only finalize this existing recording-form trace into a temporary v7 file, --runs times (for profiling finalize).", visibility: .hidden))
    var finalizeOnly: String?

    func validate() throws {
        guard records >= 10_000 else { throw ValidationError("--records must be at least 10000") }
        guard (1...50).contains(runs) else { throw ValidationError("--runs must be between 1 and 50") }
    }

    func run() throws {
        if let scanOnly {
            for _ in 0..<runs {
                let clock = ContinuousClock(), began = clock.now
                let reader = try TraceReader(path: scanOnly)
                var cursor = try reader.records()
                var count = 0
                while try cursor.next() != nil { count += 1 }
                print(String(format: "scanned %d records in %.3f s", count, nanoseconds(clock.now - began) / 1e9))
            }
            return
        }
        if let finalizeOnly {
            let destination = NSTemporaryDirectory() + "polltrace-bench-finalize-\(getpid()).sqlite"
            defer { try? FileManager.default.removeItem(atPath: destination) }
            for _ in 0..<runs {
                let clock = ContinuousClock(), began = clock.now, cpuBefore = ProcessCPU.ownSeconds()
                let summary = try TraceFinalizer.finalize(source: finalizeOnly, destination: destination)
                let seconds = nanoseconds(clock.now - began) / 1e9
                print(String(format: "finalized %d records into %d rows in %.3f s (%.0f records/s, %.3f s CPU), %.1f bytes/record",
                             summary.records, summary.rows, seconds, Double(summary.records) / seconds,
                             ProcessCPU.ownSeconds() - cpuBefore, Double(fileBytes(destination)) / Double(summary.records)))
            }
            return
        }
        if let writeRecordingForm {
            let start: UInt64 = 1_000_000_000
            let records = StoreWorkload.make(records: self.records, start: start)
            let metadata = TraceMetadata(pid: getpid(), program: "polltrace-bench", host: "bench", startWallClockNs: 0,
                                         startMonotonicNs: start,
                                         pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .guarded, epollFD: 3, label: "bench")])
            let writer = try TraceWriter(path: writeRecordingForm, metadata: metadata,
                                         options: TraceWriterOptions(mode: .lossless, overwrite: true, finalization: nil),
                                         sequence: SequenceCounter(startingAfter: UInt64(records.count)))
            writer.record(contentsOf: records)
            try writer.close()
            let bytes = fileBytes(writeRecordingForm) + fileBytes(writeRecordingForm + "-wal")
            print(String(format: "wrote %d records in the recording form to %@: %.1f bytes/record (what polltraced --trace-form recording keeps)",
                         records.count, writeRecordingForm, Double(bytes) / Double(records.count)))
            return
        }
        print("machine: \(BenchMachine.describe())")
        print("load average before: \(loadAverage())")
        print("command: polltrace-bench store --records \(self.records) --runs \(runs) --buffer-capacity \(bufferCapacity)")
        let start: UInt64 = 1_000_000_000
        let records = StoreWorkload.make(records: self.records, start: start)
        let baseline = PlainSQLiteBaseline(records: records, startMonotonicNs: start)
        let rowCount = baseline.rowCount
        print("workload: \(records.count) records, \(rowCount) rows in the ceiling's row layout (\(String(format: "%.2f", Double(rowCount) / Double(records.count))) rows/record)")

        var results: [RunResult] = []
        for run in 1...runs {
            let result = try measure(records: records, rowCount: rowCount, baseline: baseline, start: start)
            results.append(result)
            print("run \(run): " + result.line)
        }
        func median(_ key: (RunResult) -> Double) -> Double {
            let sorted = results.map(key).sorted()
            return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let m = RunResult(ceilingRecordsPerSec: median(\.ceilingRecordsPerSec), ingestRecordsPerSec: median(\.ingestRecordsPerSec),
                          writerRows: median(\.writerRows), ingestToCommitRecordsPerSec: median(\.ingestToCommitRecordsPerSec),
                          writerCPUNsPerRecord: median(\.writerCPUNsPerRecord),
                          writerTotalCPUNsPerRecord: median(\.writerTotalCPUNsPerRecord),
                          recordNsMedian: median(\.recordNsMedian), recordNsP99: median(\.recordNsP99),
                          scanRecordsPerSec: median(\.scanRecordsPerSec), rangesScanRecordsPerSec: median(\.rangesScanRecordsPerSec),
                          bytesPerRecord: median(\.bytesPerRecord), ceilingBytesPerRecord: median(\.ceilingBytesPerRecord))
        print("median of \(runs): " + m.line)
        // The ratio is taken per run (ceiling and writer measured back to back, so
        // under the same machine load), then the median.
        let ratio = median { $0.ingestRecordsPerSec / $0.ceilingRecordsPerSec }
        let ratioToCommit = median { $0.ingestToCommitRecordsPerSec / $0.ceilingRecordsPerSec }
        print(String(format: "ratio: writer / plain-SQLite ceiling, median of per-run ratios = %.2fx with close() (index build, checkpoint, fsync), %.2fx to the last commit", ratio, ratioToCommit))
        print("load average after: \(loadAverage())")
        // Ingest is judged to the last commit: that is what the traced loop's writer
        // must keep up with for nothing to be lost. close() then builds the v7 tables,
        // which a daemon does on a background thread when it rotates (off the loop):
        // reported beside it, with no goal of its own.
        print("goals:")
        print(goal(m.ingestToCommitRecordsPerSec >= 1_000_000,
                   String(format: "ingest >= 1,000,000 records/s lossless (to the last commit): %.0f; with close(), which builds the v7 tables off the loop: %.0f",
                          m.ingestToCommitRecordsPerSec, m.ingestRecordsPerSec)))
        print(goal(ratioToCommit >= 1.0,
                   String(format: "ingest >= 1.0x single-row ceiling (same records, as packed rows), to the last commit: %.2fx; with close(): %.2fx",
                          ratioToCommit, ratio)))
        print(goal(m.recordNsMedian <= 100, String(format: "recording thread <= 100 ns/record (median): %.1f ns", m.recordNsMedian)))
        print(goal(max(m.scanRecordsPerSec, m.rangesScanRecordsPerSec) >= 3_000_000,
                   String(format: "reader scan >= 3,000,000 records/s: %.0f in ranges on the reading threads (what analyze, verify and stats do), %.0f on one thread",
                          m.rangesScanRecordsPerSec, m.scanRecordsPerSec)))
        print(goal(m.bytesPerRecord <= 48, String(format: "<= 48 bytes per record on disk (v7 tables and indexes): %.1f", m.bytesPerRecord)))
    }

    private func goal(_ met: Bool, _ text: String) -> String { "  [\(met ? "met" : "NOT met")] \(text)" }

    private func measure(records: [TraceRecord], rowCount: Int, baseline: PlainSQLiteBaseline, start: UInt64) throws -> RunResult {
        let base = (directory.hasSuffix("/") ? directory : directory + "/") + "polltrace-bench-store-\(getpid())"
        let ceilingPath = base + "-ceiling.sqlite", tracePath = base + ".trace"
        defer {
            for path in [ceilingPath, tracePath] {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            }
        }
        // 1. The ceiling.
        let ceilingSeconds = try baseline.run(path: ceilingPath)
        let ceilingBytes = fileBytes(ceilingPath) + fileBytes(ceilingPath + "-wal")

        // 2. The writer, fed by one recording thread as fast as it can.
        let metadata = TraceMetadata(pid: getpid(), program: "polltrace-bench", host: "bench", startWallClockNs: 0,
                                     startMonotonicNs: start,
                                     pollers: [PollerInfo(poller: 1, backend: "epoll", policy: .guarded, epollFD: 3, label: "bench")])
        let clock = ContinuousClock()
        let began = clock.now
        let writer = try TraceWriter(path: tracePath, metadata: metadata,
                                     options: TraceWriterOptions(mode: .lossless, bufferCapacity: bufferCapacity),
                                     sequence: SequenceCounter(startingAfter: UInt64(records.count)))
        // Recording cost: time blocks of 256 record() calls; median and p99 per record.
        let block = 256
        var blockNs: [Double] = []
        blockNs.reserveCapacity(records.count / block + 1)
        var index = 0
        while index < records.count {
            let end = min(index + block, records.count)
            let t0 = clock.now
            for i in index..<end { writer.record(records[i]) }
            let spent = clock.now - t0
            blockNs.append(nanoseconds(spent) / Double(end - index))
            index = end
        }
        // Sustained to commit: poll until the writer has committed everything.
        while writer.statistics.recordsWritten < records.count { usleep(200) }
        let committed = clock.now
        let writerCPUNs = writer.statistics.writerCPUNs
        try writer.close()
        let closed = clock.now
        let writerTotalCPUNs = writer.statistics.writerCPUNs
        blockNs.sort()
        let ingestSeconds = nanoseconds(closed - began) / 1e9
        let toCommitSeconds = nanoseconds(committed - began) / 1e9
        let traceBytes = fileBytes(tracePath) + fileBytes(tracePath + "-wal")

        // 3. Reader full scan.
        let scanBegan = clock.now
        let reader = try TraceReader(path: tracePath)
        var cursor = try reader.records()
        var read = 0
        while try cursor.next() != nil { read += 1 }
        let scanSeconds = nanoseconds(clock.now - scanBegan) / 1e9
        // 4. The same scan as analyze, verify and stats read a large v7 trace: in seq
        // ranges on the reading threads (`TraceRecordRanges`).
        let rangesBegan = clock.now
        var rangesRead = 0
        if let ranges = try TraceReader(path: tracePath).recordRanges() {
            while var range = try ranges.next() {
                rangesRead += range.count
                ranges.recycle(&range)
            }
        }
        let rangesSeconds = nanoseconds(clock.now - rangesBegan) / 1e9
        if let keepTrace {
            try? FileManager.default.removeItem(atPath: keepTrace)
            try FileManager.default.copyItem(atPath: tracePath, toPath: keepTrace)
        }
        guard read == records.count else {
            throw ValidationError("the reader returned \(read) records, expected \(records.count)")
        }
        return RunResult(ceilingRecordsPerSec: Double(records.count) / ceilingSeconds,
                         ingestRecordsPerSec: Double(records.count) / ingestSeconds,
                         writerRows: Double(writer.statistics.rowsWritten),
                         ingestToCommitRecordsPerSec: Double(records.count) / toCommitSeconds,
                         writerCPUNsPerRecord: Double(writerCPUNs) / Double(records.count),
                         writerTotalCPUNsPerRecord: Double(writerTotalCPUNs) / Double(records.count),
                         recordNsMedian: blockNs[blockNs.count / 2],
                         recordNsP99: blockNs[min(blockNs.count - 1, blockNs.count * 99 / 100)],
                         scanRecordsPerSec: Double(records.count) / scanSeconds,
                         rangesScanRecordsPerSec: rangesRead == records.count ? Double(records.count) / rangesSeconds : 0,
                         bytesPerRecord: Double(traceBytes) / Double(records.count),
                         ceilingBytesPerRecord: Double(ceilingBytes) / Double(records.count))
    }
}

private struct RunResult {
    var ceilingRecordsPerSec: Double
    var ingestRecordsPerSec: Double
    /// Rows the writer inserted: at least the one-commit packing's, since a dispatch
    /// whose batch went out in the previous commit is a row of its own.
    var writerRows: Double
    var ingestToCommitRecordsPerSec: Double
    /// The writer thread's CPU (user + system) per record up to the last commit:
    /// steadier than the rates when the machine is busy.
    var writerCPUNsPerRecord: Double
    /// The same with close() (index build, last checkpoint).
    var writerTotalCPUNsPerRecord: Double
    var recordNsMedian: Double
    var recordNsP99: Double
    var scanRecordsPerSec: Double
    /// The scan in ranges on the reading threads; 0 where the trace is not read that way.
    var rangesScanRecordsPerSec: Double
    var bytesPerRecord: Double
    var ceilingBytesPerRecord: Double

    var line: String {
        String(format: "ceiling %.0f records/s | writer %.0f records/s in %.0f rows (%.0f records/s to last commit, before close; writer thread %.0f ns CPU/record, %.0f with close) | "
               + "record() %.1f ns median, %.1f ns p99 | scan %.0f records/s (%.0f in ranges) | %.1f bytes/record (ceiling file %.1f)",
               ceilingRecordsPerSec, ingestRecordsPerSec, writerRows, ingestToCommitRecordsPerSec, writerCPUNsPerRecord, writerTotalCPUNsPerRecord, recordNsMedian, recordNsP99,
               scanRecordsPerSec, rangesScanRecordsPerSec, bytesPerRecord, ceilingBytesPerRecord)
    }
}

/// The benchmark's synthetic loop: deterministic, guarded policy, churning.
enum StoreWorkload {
    static func make(records target: Int, start: UInt64) -> [TraceRecord] {
        var records: [TraceRecord] = []
        records.reserveCapacity(target + 64)
        var seq: UInt64 = 0
        // Ten seconds into a trace, one record every ~700 ns: realistic time widths.
        var time = start + 10_000_000_000
        var nextRegistration: UInt32 = 1
        var live: [(fd: Int32, id: UInt32)] = []
        func next() -> (UInt64, UInt64) { seq += 1; time += 700; return (seq, time) }
        for fd in Int32(10)..<Int32(74) {
            let (s, t) = next()
            records.append(.registered(Registered(seq: s, timeNs: t, poller: 1, registrationID: nextRegistration, fd: fd,
                                                  interest: .readable, data: EpollData.pack(registrationID: nextRegistration, fd: fd),
                                                  handlerLabel: "conn")))
            live.append((fd, nextRegistration)); nextRegistration += 1
        }
        var iteration = 0
        var batchNumber: UInt64 = 0
        while records.count < target {
            iteration += 1
            batchNumber += 1
            let count = 1 + (iteration * 5) % 8
            let picked = (0..<count).map { live[(iteration * 7 + $0 * 13) % live.count] }
            let (batchSeq, batchTime) = next()
            records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: batchTime, poller: 1, batchNumber: batchNumber, timeoutMs: 100,
                                                 waitedNs: UInt64(1_000 + (iteration * 7919) % 500_000),
                                                 events: picked.map { HarvestedEvent(fd: $0.fd, mask: .readable,
                                                                                      data: EpollData.pack(registrationID: $0.id, fd: $0.fd)) })))
            for (index, entry) in picked.enumerated() {
                let (s, t) = next()
                records.append(.dispatch(Dispatch(seq: s, timeNs: t, poller: 1, source: .event, batchSeq: batchSeq,
                                                  eventIndex: UInt32(index), ranRegistrationID: entry.id, deliveredMask: .readable,
                                                  suppression: nil, handlerThrew: false, durationNs: UInt64(300 + (s * 31) % 5_000))))
            }
            if iteration % 4 == 0 {
                let slot = iteration % live.count
                let old = live[slot]
                let (s1, t1) = next(), (s2, t2) = next(), (s3, t3) = next(), (s4, t4) = next()
                records.append(.unregistered(Unregistered(seq: s1, timeNs: t1, poller: 1, registrationID: old.id, fd: old.fd)))
                records.append(.closed(Closed(seq: s2, timeNs: t2, poller: 1, fd: old.fd)))
                records.append(.fdOpened(FDOpened(seq: s3, timeNs: t3, poller: 1, fd: old.fd, origin: .accept)))
                records.append(.registered(Registered(seq: s4, timeNs: t4, poller: 1, registrationID: nextRegistration, fd: old.fd,
                                                      interest: .readable, data: EpollData.pack(registrationID: nextRegistration, fd: old.fd),
                                                      handlerLabel: "conn")))
                live[slot] = (old.fd, nextRegistration); nextRegistration &+= 1
            }
        }
        return records
    }
}

private func nanoseconds(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1e9 + Double(d.components.attoseconds) / 1e9
}

private func fileBytes(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int) ?? 0
}

private func loadAverage() -> String {
    ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
}

