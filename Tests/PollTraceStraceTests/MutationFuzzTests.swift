import Foundation
import PollTraceCore
import PollTraceStrace
import XCTest

/// The parser and importer never crash or hang, whatever a log turns into: random
/// mutations of real logs (the committed excerpts and a fresh recording of the seed
/// loop) are imported and analysed. The seed is printed so a failure can be replayed
/// with POLLTRACE_FUZZ_SEED.
final class MutationFuzzTests: XCTestCase {
    typealias Random = SplitMix64

    /// Bytes that mean something to the parser, so mutations hit its edges.
    static let interesting = Array("()[]{}<>\"\\,=| .:-+?0123456789xEPOLLINu64=data=events=<unfinished ...><... resumed>\n"
        .utf8)

    static func mutate(_ input: [UInt8], using random: inout Random) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...8, using: &random) {
            guard !bytes.isEmpty else { break }
            let at = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0: bytes.remove(at: at)
            case 1: bytes.insert(interesting.randomElement(using: &random)!, at: at)
            case 2: bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 3: bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...40, using: &random)))
            case 4:  // duplicate a slice somewhere else
                let end = min(bytes.count, at + Int.random(in: 1...80, using: &random))
                let slice = bytes[at..<end]
                bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &random))
            case 5: bytes = Array(bytes[..<at])  // strace killed here
            default:  // a long run of digits (overflow bait)
                bytes.insert(contentsOf: Array(repeating: UInt8(ascii: "9"), count: 30), at: at)
            }
        }
        return bytes
    }

    func testRandomMutationsOfRealLogs_neverCrashOrHang() throws {
        var sources: [[UInt8]] = []
        let logs = StraceFixtures.directory.appendingPathComponent("logs")
        for name in try FileManager.default.contentsOfDirectory(atPath: logs.path).sorted() where name.hasSuffix(".strace") {
            sources.append(Array(try Data(contentsOf: logs.appendingPathComponent(name))))
        }
        if let dir = try? StraceFixtures.temporaryDirectory() {
            defer { try? FileManager.default.removeItem(at: dir) }
            if let program = try? StraceFixtures.compile("threaded_loop", into: dir),
               let log = try? StraceFixtures.record(program, in: dir) {
                sources.append(Array(try Data(contentsOf: URL(fileURLWithPath: log))))
            }
        }
        XCTAssertGreaterThanOrEqual(sources.count, 4, "the committed excerpts are there")

        let seed = ProcessInfo.processInfo.environment["POLLTRACE_FUZZ_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 1...UInt64.max)
        print("MutationFuzzTests seed: \(seed) (replay with POLLTRACE_FUZZ_SEED=\(seed))")
        var random = Random(seed: seed)
        let rounds = Int(ProcessInfo.processInfo.environment["POLLTRACE_FUZZ_ROUNDS"] ?? "") ?? 400
        for round in 0..<rounds {
            let source = sources[round % sources.count]
            let mutated = Self.mutate(source, using: &random)
            let text = String(decoding: mutated, as: UTF8.self)
            let (report, _) = StraceImport.analyze(text: text)
            // Whatever came in, the report renders and stays within the input's size.
            XCTAssertFalse(report.renderText().isEmpty)
            XCTAssertLessThanOrEqual(report.findings.count, mutated.count, "seed \(seed) round \(round)")
        }
    }
}
