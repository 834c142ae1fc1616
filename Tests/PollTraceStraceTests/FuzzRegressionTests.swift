import Foundation
import PollTraceCore
import PollTraceStrace
import XCTest

/// Replays Tests/FuzzRegressions/strace-line through what the `strace-line` fuzz
/// target runs: the importer and the hazard analysis, line by line, then the report.
final class FuzzRegressionTests: XCTestCase {
    func testEveryRegressionInput_importsWithoutCrashing() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzRegressions/strace-line")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertFalse(files.isEmpty, "the regression inputs must be there")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(file)))
            let analyzer = ForeignHazardAnalyzer()
            let importer = StraceImporter(sequence: SequenceCounter(), consumers: [analyzer])
            var number: UInt32 = 0
            bytes.withUnsafeBufferPointer { buffer in
                var start = 0
                while start <= buffer.count {
                    let end = buffer[start...].firstIndex(of: UInt8(ascii: "\n")) ?? buffer.count
                    number += 1
                    importer.feed(UnsafeBufferPointer(rebasing: buffer[start..<end]), number: number)
                    start = end + 1
                }
            }
            importer.finish()
            analyzer.finish()
            let report = ForeignReport(findings: analyzer.findings, statistics: analyzer.stats, diagnostics: importer.diagnostics)
            XCTAssertFalse(report.renderText().isEmpty, file)
            XCTAssertEqual(importer.linesRead, number, "\(file): every line is counted")
        }
    }
}
