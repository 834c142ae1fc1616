import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The packed-text number writer formats two digits per step; every Int64 must
/// come out exactly as Swift prints it, and read back through the scanner.
final class PackedTextTests: XCTestCase {
    func testDecimal_matchesSwiftsFormatting_andReadsBack() throws {
        var values: [Int64] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10_000, 123_456_789,
                               999_999_999_999_999_999, 1_000_000_000_000_000_000, .max, .min, .min + 1, -1, -9, -10, -99, -100]
        var power: Int64 = 1
        for _ in 0..<18 { power *= 10; values += [power - 1, power, power + 1, -power] }
        var random = SplitMix64(seed: 42)
        for _ in 0..<5_000 {
            let bits = Int(random.next() % 64)
            let magnitude = Int64(bitPattern: random.next() >> UInt64(bits))
            values.append(random.chance(0.5) ? magnitude : 0 &- magnitude)
        }
        for value in values {
            var writer = PackedTextWriter(capacity: PackedTextWriter.bytesPerNumber)
            writer.decimal(value)
            let text = PackedTextBytes(writer)
            XCTAssertEqual(String(decoding: text.buffer, as: UTF8.self), String(value), "formatting \(value)")
            var scanner = PackedTextScanner(bytes: text.buffer, row: .batch(1))
            XCTAssertEqual(try scanner.integer(), value, "reading \(value) back")
            XCTAssertTrue(scanner.atEnd)
        }
    }
}
