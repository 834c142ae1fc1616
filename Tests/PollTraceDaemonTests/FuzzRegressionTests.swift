import Foundation
import PollTraceDaemon
import XCTest

/// Replays Tests/FuzzRegressions/http-request through what the `http-request` fuzz
/// target runs: the request parser fed in pieces (the first byte sets their size),
/// every request taken out until it needs more bytes or fails.
final class FuzzRegressionTests: XCTestCase {
    func testEveryRegressionInput_parsesToRequestsOrAnError() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("FuzzRegressions/http-request")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        XCTAssertFalse(files.isEmpty, "the regression inputs must be there")
        for file in files {
            let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(file)))
            guard let first = bytes.first else { continue }
            let piece = Int(first % 64) + 1
            var parser = HTTPRequestParser(limits: HTTPParserLimits(maxRequestLineBytes: 512, maxHeaderBytes: 2048,
                                                                    maxHeaderCount: 16, maxBodyBytes: 1024))
            var offset = 1
            var failed = false
            feeding: while offset < bytes.count {
                let end = min(bytes.count, offset + piece)
                parser.append(bytes[offset..<end])
                offset = end
                while true {
                    switch parser.next() {
                    case .needMoreData: continue feeding
                    case .request: continue
                    case .failure(let error):
                        XCTAssertGreaterThanOrEqual(error.status.code, 400, "\(file): a failure is a 4xx or 5xx")
                        failed = true
                        break feeding
                    }
                }
            }
            // The committed inputs are all malformed: each must be refused, not accepted.
            XCTAssertTrue(failed, "\(file) must be refused with an error status")
        }
    }
}
