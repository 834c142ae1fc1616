/// One v7 table's `INSERT`: `rowsPerStatement` rows per statement step, as the
/// recording form's `MultiRowInsert` does, so that SQLite's cost per statement is
/// paid once per group of rows, not once per row.
struct PlainInsert {
    let table: PlainTable
    private let columnCount: Int
    private let many: SQLiteStatement
    private let one: SQLiteStatement

    static let rowsPerStatement = 32

    init(connection: SQLiteConnection, table: PlainTable) throws {
        self.table = table
        let columns = table.columns
        columnCount = columns.count
        let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        // OR FAIL, as in `MultiRowInsert`: no statement journal for a multi-row step.
        let head = "INSERT OR FAIL INTO \(table.name)(\(columns.joined(separator: ","))) VALUES "
        many = try connection.makeStatement(sql: head + Array(repeating: tuple, count: Self.rowsPerStatement).joined(separator: ","),
                                            parameters: columns.count * Self.rowsPerStatement)
        one = try connection.makeStatement(sql: head + tuple, parameters: columns.count)
    }

    /// Inserts every row of `values`: whole groups through the multi-row statement,
    /// the last few rows one by one.
    func insert(_ values: PlainRowValues) throws {
        let group = columnCount * Self.rowsPerStatement
        var start = 0
        while values.count - start >= group {
            values.bind(start..<(start + group), to: many)
            defer { many.reset() }
            try many.run()
            start += group
        }
        while start < values.count {
            values.bind(start..<(start + columnCount), to: one)
            defer { one.reset() }
            try one.run()
            start += columnCount
        }
    }
}
