import Foundation
import Logging
import PollTraceStore
import XCTest
@testable import PollTraceDaemon

/// The recorder's own threads: the rotation watch and the closes of rotated files.
/// `close()` must leave none of them running and none of their work undone.
final class RecorderBackgroundTests: XCTestCase {
    /// The names of this process's threads (`/proc/self/task/*/comm`).
    private func threadNames() -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    func testClose_joinsTheRotationWatch_andWaitsForEveryRotatedFilesClose() throws {
        let directory = temporaryTraceDirectory("recorder-background")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let recorder = try DaemonRecorder(settings: TraceSettings(directory: directory), stats: DaemonStats(),
                                          logger: Logger(label: "test"))
        let watchesBefore = threadNames().filter { $0 == "trace-rotation" }.count
        try recorder.startRotationWatch()
        XCTAssertEqual(threadNames().filter { $0 == "trace-rotation" }.count, watchesBefore + 1,
                       "the watch runs on a thread of its own, named for ps -L")
        try recorder.rotate()
        try recorder.rotate()
        try recorder.close()
        XCTAssertEqual(threadNames().filter { $0 == "trace-rotation" }.count, watchesBefore,
                       "close() returns only once the watch's thread has ended (joined, not told to stop and left running)")
        XCTAssertEqual(recorder.completedPaths.count, 3,
                       "close() returns only once both rotated files' background closes are done: \(recorder.completedPaths)")
        for path in recorder.completedPaths {
            XCTAssertTrue(try TraceReader(path: path).closedCleanly, "\(path) is finished")
        }
    }
}
