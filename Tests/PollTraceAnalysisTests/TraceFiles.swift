import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// Temporary trace files for tests, removed when the test ends.
enum TraceFiles {
    static func temporaryPath(_ name: String) -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-analysis-tests-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let path = dir.appendingPathComponent("\(name)-\(UUID().uuidString).trace").path
        return path
    }

    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    static func metadata(pollers: [PollerInfo], program: String = "test") -> TraceMetadata {
        TraceMetadata(pid: 4242, program: program, host: "localhost", startWallClockNs: 1_700_000_000_000_000_000,
                      startMonotonicNs: 0, pollers: pollers)
    }

    /// Writes `records` to a new trace file with the real writer.
    static func write(_ records: [TraceRecord], pollers: [PollerInfo], name: String) throws -> String {
        let path = temporaryPath(name)
        let writer = try TraceWriter(path: path, metadata: metadata(pollers: pollers), options: TraceWriterOptions(overwrite: true))
        for p in pollers { writer.pollerStarted(p) }
        for r in records { writer.record(r) }
        try writer.close()
        return path
    }
}
