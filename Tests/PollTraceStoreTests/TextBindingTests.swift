import XCTest
@testable import PollTraceStore

/// Strings are bound from their UTF-8 bytes in place. The cases that differ from
/// handing SQLite a C string: an empty string must stay text (a nil pointer would
/// bind NULL), a zero byte inside must be kept, and short (inline) strings must come
/// out as long ones do.
final class TextBindingTests: XCTestCase {
    func testStrings_readBackExactly_asText() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-text-binding-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let connection = try SQLiteConnection(path: directory.appendingPathComponent("t.sqlite").path, readOnly: false)
        try connection.execute(sql: "CREATE TABLE t(id INTEGER PRIMARY KEY, value TEXT)")
        let insert = try connection.makeStatement(sql: "INSERT INTO t(id, value) VALUES (?, ?)", parameters: 2)
        let values: [String?] = ["", "a", "read", "rtp-tcp:40000", String(repeating: "x", count: 15), String(repeating: "y", count: 16),
                                 "caf\u{e9} \u{1F600}", "nul\u{0}inside", String(repeating: "long label ", count: 40), nil]
        for (id, value) in values.enumerated() {
            insert.bind(Int64(id), at: 1)
            insert.bind(value, at: 2)
            try insert.run()
            insert.reset()
        }
        let read = try connection.makeStatement(sql: "SELECT id, typeof(value), value, length(CAST(value AS BLOB)) FROM t ORDER BY id")
        var seen = 0
        while try read.step() {
            let value = values[Int(read.int64(0))]
            XCTAssertEqual(read.text(1), value == nil ? "null" : "text", "storage class of \(String(describing: value))")
            if let value {
                XCTAssertEqual(read.text(2), value)
                XCTAssertEqual(Int(read.int64(3)), value.utf8.count, "every byte of \(value.debugDescription) is stored")
            }
            seen += 1
        }
        XCTAssertEqual(seen, values.count)
    }
}
