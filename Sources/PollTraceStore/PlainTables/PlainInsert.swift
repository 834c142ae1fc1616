/// One v7 table's `INSERT`, `rowsPerStatement` rows per statement step, as the
/// recording form's `MultiRowInsert` does. Pending rows are kept as one flat array
/// of values, column after column, reused from group to group: a row costs its
/// values, not an array of its own.
struct PlainInsert {
    let columnCount: Int
    private let rowsPerStatement: Int
    private let many: SQLiteStatement
    private let one: SQLiteStatement
    private var pending: [PlainValue] = []

    init(connection: SQLiteConnection, table: String, columns: [String], rowsPerStatement: Int) throws {
        columnCount = columns.count
        self.rowsPerStatement = rowsPerStatement
        let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        // OR FAIL, as in `MultiRowInsert`: no statement journal for a multi-row step.
        let head = "INSERT OR FAIL INTO \(table)(\(columns.joined(separator: ","))) VALUES "
        many = try connection.makeStatement(sql: head + Array(repeating: tuple, count: rowsPerStatement).joined(separator: ","),
                                            parameters: columns.count * rowsPerStatement)
        one = try connection.makeStatement(sql: head + tuple, parameters: columns.count)
        pending.reserveCapacity(columns.count * rowsPerStatement)
    }

    /// Adds one row: `values` appends its values in column order.
    @inline(__always)
    mutating func add(_ values: (inout [PlainValue]) -> Void) throws {
        let before = pending.count
        values(&pending)
        precondition(pending.count - before == columnCount, "a row of \(pending.count - before) values for \(columnCount) columns")
        if pending.count == columnCount * rowsPerStatement {
            Self.bind(pending[...], to: many)
            pending.removeAll(keepingCapacity: true)
            defer { many.reset() }
            try many.run()
        }
    }

    /// Inserts the rows still waiting for a full group, one per statement.
    mutating func finish() throws {
        defer { pending.removeAll(keepingCapacity: true) }
        var start = 0
        while start < pending.count {
            Self.bind(pending[start..<(start + columnCount)], to: one)
            defer { one.reset() }
            try one.run()
            start += columnCount
        }
    }

    private static func bind(_ values: ArraySlice<PlainValue>, to statement: SQLiteStatement) {
        var index: Int32 = 1
        for value in values {
            switch value {
            case .int(let v): statement.bind(v, at: index)
            case .text(let v): statement.bind(v, at: index)
            }
            index += 1
        }
    }
}

/// One value of a v7 row.
enum PlainValue {
    case int(Int64?)
    case text(String?)
}

extension Array where Element == PlainValue {
    @inline(__always)
    mutating func int<T: BinaryInteger>(_ value: T) { append(.int(Int64(truncatingIfNeeded: value))) }
    @inline(__always)
    mutating func int<T: BinaryInteger>(_ value: T?) { append(.int(value.map { Int64(truncatingIfNeeded: $0) })) }
    @inline(__always)
    mutating func text(_ value: String?) { append(.text(value)) }
}
