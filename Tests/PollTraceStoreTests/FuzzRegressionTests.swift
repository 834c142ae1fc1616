import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// Replays Tests/FuzzRegressions/trace-reader through what the `trace-reader` fuzz
/// target runs: the bytes as a trace file, opened with `TraceReader`, every record
/// read. An error is a fine answer to a damaged file; a crash or a hang is not.
final class FuzzRegressionTests: XCTestCase {
    func testEveryRegressionInput_readsOrFailsCleanly() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzRegressions/trace-reader")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-regression-\(UUID().uuidString).sqlite").path
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch + suffix) } }
        for file in files {
            for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: scratch + suffix) }
            try FileManager.default.copyItem(atPath: directory.appendingPathComponent(file).path, toPath: scratch)
            do {
                let reader = try TraceReader(path: scratch)
                var cursor = try reader.records()
                var count = 0
                while try cursor.next() != nil { count += 1 }
                XCTAssertGreaterThanOrEqual(count, 0)
            } catch {
                XCTAssertFalse("\(error)".isEmpty, "\(file): an error must say something")
            }
        }
    }
}
