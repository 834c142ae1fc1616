import Foundation
import Logging
import PollTraceCore
import PollTraceStore
import Synchronization

/// The recorder the daemon's pollers share: counts verdicts for `/api/stats`, and
/// forwards every record to the current trace file, starting a new file on
/// request, by size or by age, and deleting old ones past the retention count.
///
/// All files of one daemon share one sequence counter, so sequence numbers keep
/// increasing across files. A new file starts mid-stream, though: fds and
/// registrations made before the rotation are not in it, so its replay reports
/// their events as orphans (see docs/daemon.md). For a clean replay of a
/// reproduction, do not rotate during it.
public final class DaemonRecorder: TraceRecorder, Sendable {
    public let sequence = SequenceCounter()
    let stats: DaemonStats
    let settings: TraceSettings
    private let logger: Logger

    private struct State {
        var writer: TraceWriter?
        var openedAtNs: UInt64 = 0
        var pollers: [PollerInfo] = []
        /// Finished files (closed, indexes built), oldest first. A file joins only once
        /// its writer's close returned, so retention never deletes one still being written.
        var completed: [String] = []
        /// Statistics of writers already closed, summed.
        var finished = TraceWriterStatistics()
        var fileNumber = 0
        var rotations = 0
        /// The file whose write failure is already logged.
        var failureReported: String?
        /// A policy rotation failed and has not succeeded since (its error is logged once).
        var rotationFailing = false
    }

    // Every field is read and written under this lock.
    private let state = Mutex(State())
    /// Held for a whole retention pass (`applyRetention`); taken before `state`, never while holding it.
    private let retentionPass = Mutex(())

    /// Where records go: the current writer, one copy per lane (a poller's id picks
    /// its lane), each under a lock of its own. `record` holds its lane's lock while
    /// it hands the record over, so a rotation can never close a writer under a
    /// record; with one lock for every poller, that lock moved between the cores on
    /// every record. Set only with `state`'s lock held (`route`).
    private let lanes = UnretainedObjects((0..<8).map { _ in Lane() })

    private final class Lane: Sendable {
        let writer = Mutex<TraceWriter?>(nil)
    }

    /// Points every lane at `writer`, holding each lane's lock until all are set, so
    /// that no record reaches the old writer once one has reached the new.
    private func route(to writer: TraceWriter?, from index: Int = 0) {
        guard index < lanes.count else { return }
        lanes.all[index].writer.withLock { current in
            current = writer
            route(to: writer, from: index + 1)
        }
    }

    public init(settings: TraceSettings, stats: DaemonStats, logger: Logger) throws {
        self.settings = settings
        self.stats = stats
        self.logger = logger
        do {
            try FileManager.default.createDirectory(atPath: settings.directory, withIntermediateDirectories: true)
        } catch {
            let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
            throw DaemonError.traceDirectory(path: settings.directory,
                                             reason: underlying?.localizedDescription ?? error.localizedDescription)
        }
        removeAbandonedTableCopies()
        do {
            try state.withLock { state in
                state.writer = try makeWriter(&state)
                route(to: state.writer)
            }
        } catch {
            throw DaemonError.traceFile(directory: settings.directory, reason: "\(error)")
        }
    }

    /// Deletes the half-built v7 copies an earlier daemon left when it was killed
    /// while finishing a file (`UnfinishedTableCopies`), and says which trace each
    /// belonged to: that trace is complete in its recording form.
    private func removeAbandonedTableCopies() {
        for copy in UnfinishedTableCopies.abandoned(in: settings.directory, prefix: settings.prefix) {
            let trace = String(copy.dropLast(".writing".count))
            do {
                try FileManager.default.removeItem(atPath: copy)
                logger.warning("removed a half-built v7 copy left by a daemon killed while finishing a trace; the trace keeps its complete recording form (analyze reads it; `polltrace finalize` makes its tables)",
                               metadata: ["removed": "\(copy)", "trace": "\(trace)"])
            } catch {
                logger.warning("could not remove a half-built v7 copy left by a killed daemon: \(error)", metadata: ["path": "\(copy)"])
            }
        }
    }

    public func pollerStarted(_ info: PollerInfo) {
        state.withLock { state in
            state.pollers.append(info)
            state.writer?.pollerStarted(info)
        }
    }

    public func record(_ record: consuming TraceRecord) {
        stats.observe(record)
        // Moved, not copied, into the writer under the lane's lock; lane and writer
        // are borrowed, not retained, on this path taken by every record.
        let lane = Int(record.poller) & 7
        var handed: TraceRecord? = consume record
        lanes.with(lane) { lane in
            lane.writer.withLock { writer in writer?.record(handed.take()!) }
        }
    }

    /// One loop iteration's records (`EventPoller`'s staging): its lane's lock once
    /// for all of them. They all come from one poller, so they share a lane.
    public func record(contentsOf records: [TraceRecord]) {
        guard let first = records.first else { return }
        stats.observe(contentsOf: records)
        lanes.with(Int(first.poller) & 7) { lane in
            lane.writer.withLock { writer in writer?.record(contentsOf: records) }
        }
    }

    /// The file being written now.
    public var currentPath: String? { state.withLock { $0.writer?.path } }

    /// Every file this recorder finished (oldest first), retention deletions excluded.
    /// A rotated file appears once its background close is done.
    public var completedPaths: [String] { state.withLock { $0.completed } }

    /// How many times a new file was started (by request, size or age).
    public var rotationCount: Int { state.withLock { $0.rotations } }

    /// Records written, dropped and gaps, over all files so far.
    public var statistics: TraceWriterStatistics {
        state.withLock { state in
            var total = state.finished
            if let current = state.writer?.statistics { total.add(current) }
            return total
        }
    }

    /// Starts a new file now. The old one is finished on a background thread so the
    /// poller that asked does not wait for SQLite. Returns (old path, new path).
    @discardableResult
    public func rotate() throws -> (closed: String?, opened: String) {
        let (old, opened): (TraceWriter?, String) = try state.withLock { state in
            let old = state.writer
            state.writer = try makeWriter(&state)
            route(to: state.writer)
            state.rotations += 1
            if old != nil { background.closeStarting() }
            return (old, state.writer!.path)
        }
        if let old {
            background.runClose { [self] in
                finish(old)
                applyRetention()
            }
        }
        logger.info("trace rotated", metadata: ["closed": "\(old?.path ?? "-")", "opened": "\(opened)"])
        return (old?.path, opened)
    }

    /// Every `watchIntervalNs`, on a thread of the recorder's own, off the event
    /// loops: reports a trace that stopped being written (`reportWriteFailure`)
    /// and applies the rotation policy. On a loop timer each check would be a
    /// dispatch in the trace, so an idle daemon would keep writing its trace only to
    /// say that it checked.
    public func startRotationWatch() throws {
        try background.startWatch(name: "trace-rotation", intervalNs: Self.watchIntervalNs) { [self] nowNs in
            reportWriteFailure()
            rotateIfDue(nowNs: nowNs)
        }
    }

    static let watchIntervalNs: UInt64 = 250_000_000
    /// The rotation watch and the closes of rotated files.
    private let background = RecorderBackground()

    /// Logs, once per file, that the current trace stopped being written (disk
    /// full, size limit, I/O error): the writer keeps the daemon running and counts
    /// what it drops, but without this line only `/api/stats` would say so.
    func reportWriteFailure() {
        let failed = state.withLock { state -> (path: String, error: String, dropped: Int)? in
            guard let writer = state.writer, state.failureReported != writer.path else { return nil }
            let statistics = writer.statistics
            guard let error = statistics.lastError else { return nil }
            state.failureReported = writer.path
            return (writer.path, error, statistics.recordsDropped)
        }
        guard let failed else { return }
        logger.error("trace writing stopped; later records are dropped and counted until the trace is rotated or the daemon stops", metadata: [
            "trace": "\(failed.path)", "error": "\(failed.error)", "records_dropped": "\(failed.dropped)",
        ])
    }

    /// Logs what a file that failed lost in all, when it is finished.
    private func reportFinishedAfterFailure(_ writer: TraceWriter) {
        let statistics = writer.statistics
        guard let error = statistics.lastError else { return }
        logger.error("trace finished after a write error; what was committed before it is readable", metadata: [
            "trace": "\(writer.path)", "error": "\(error)", "records_dropped": "\(statistics.recordsDropped)",
        ])
    }

    /// Rotates if the policy says the current file is too big or too old.
    public func rotateIfDue(nowNs: UInt64) {
        guard settings.rotation.maxBytes != nil || settings.rotation.maxAgeSeconds != nil else { return }
        let (path, openedAt) = state.withLock { ($0.writer?.path, $0.openedAtNs) }
        guard let path else { return }
        let bytes = Self.fileBytes(path) + Self.fileBytes(path + "-wal")
        let age = Double(nowNs &- openedAt) / 1e9
        if settings.rotation.isDue(bytes: bytes, ageSeconds: age) {
            do {
                try rotate()
                state.withLock { $0.rotationFailing = false }
            } catch {
                // Retried every check while due; logged once until one succeeds.
                let first = state.withLock { state in
                    defer { state.rotationFailing = true }
                    return !state.rotationFailing
                }
                if first { logger.error("trace rotation failed; retrying while the policy says it is due: \(error)") }
            }
        }
    }

    /// Finishes the current file and waits for every earlier one to be finished.
    /// After this, records are discarded (the daemon has stopped its pollers first).
    public func close() throws {
        // Stop the rotation watch first, so it cannot open a file after this one.
        background.stopWatch()
        let current = state.withLock { state -> TraceWriter? in
            defer {
                state.writer = nil
                route(to: nil)
            }
            return state.writer
        }
        var failure: (any Error)?
        if let current {
            if settings.fileForm == .tables {
                // Can take seconds on a long trace: say why the stop waits, and
                // what a kill now would leave.
                logger.info("finishing the trace: making its v7 tables (a kill now leaves it complete in its recording form)",
                            metadata: ["trace": "\(current.path)"])
            }
            do { try current.close() } catch { failure = error }
            let finished = current.statistics
            if finished.finalizeNs > 0 {
                logger.info("trace finished", metadata: ["trace": "\(current.path)", "records": "\(finished.finalizedRecords)",
                                                         "findings": "\(finished.finalizedFindings)",
                                                         "seconds": "\(String(format: "%.2f", Double(finished.finalizeNs) / 1e9))"])
            }
            reportFinishedAfterFailure(current)
            absorb(current.statistics)
        }
        // Wait for background closes still running (bounded: each is one file's flush).
        background.waitForCloses()
        if let current { markFinished(current.path) }
        applyRetention()
        if let failure { throw failure }
    }

    private func finish(_ writer: TraceWriter) {
        do { try writer.close() } catch { logger.error("finishing trace \(writer.path) failed: \(error)") }
        reportFinishedAfterFailure(writer)
        absorb(writer.statistics)
        markFinished(writer.path)
    }

    /// Files are numbered in the order they were opened; keep `completed` in that
    /// order even when background closes finish out of order.
    private func markFinished(_ path: String) {
        state.withLock { state in
            state.completed.append(path)
            state.completed.sort { Self.fileNumber($0) < Self.fileNumber($1) }
        }
    }

    static func fileNumber(_ path: String) -> Int {
        let stem = path.hasSuffix(".sqlite") ? String(path.dropLast(7)) : path
        return Int(stem.split(separator: "-").last ?? "") ?? 0
    }

    private func absorb(_ finished: TraceWriterStatistics) {
        state.withLock { state in state.finished.add(finished) }
    }

    /// Deletes this daemon's oldest finished files beyond `retain`. Only files this
    /// recorder made are ever deleted.
    ///
    /// One pass at a time (`retentionPass`), deletions included: otherwise a
    /// background close's pass could take files off `completed` and still be
    /// deleting them when `close()`'s own pass finds nothing left to do, and
    /// `close()` would return with more files on disk than `retain` allows.
    private func applyRetention() {
        retentionPass.withLock { _ in
            let doomed = state.withLock { state -> [String] in
                let doomed = settings.rotation.filesToDelete(completedOldestFirst: state.completed)
                state.completed.removeFirst(doomed.count)
                return doomed
            }
            for path in doomed {
                for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
                logger.info("trace deleted by retention", metadata: ["path": "\(path)"])
            }
        }
    }

    private func makeWriter(_ state: inout State) throws -> TraceWriter {
        state.fileNumber += 1
        let path = "\(settings.directory)/\(settings.prefix)-\(Self.timestamp())-\(getpid())-\(state.fileNumber).sqlite"
        let metadata = TraceMetadata(
            pid: getpid(), program: "polltraced", host: ProcessInfo.processInfo.hostName,
            startWallClockNs: UInt64(Date().timeIntervalSince1970 * 1e9), startMonotonicNs: MonotonicClock.nowNs())
        let mode: TraceMode = settings.mode == .drop ? .drop : .lossless
        let writer: TraceWriter
        do {
            writer = try TraceWriter(path: path, metadata: metadata,
                                     options: TraceWriterOptions(mode: mode, overwrite: true, writerPriority: settings.writerPriority,
                                                                 finalization: settings.fileForm == .tables ? .replay : nil),
                                     sequence: sequence)
        } catch {
            // On a full disk SQLite creates the file and then fails to write its
            // header: leave no empty file that looks like a trace.
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
            throw error
        }
        for info in state.pollers { writer.pollerStarted(info) }
        state.openedAtNs = MonotonicClock.nowNs()
        return writer
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        return formatter.string(from: Date())
    }

    static func fileBytes(_ path: String) -> Int64 {
        var info = stat()
        return stat(path, &info) == 0 ? Int64(info.st_size) : 0
    }
}
