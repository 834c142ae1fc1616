/// One v7 table's `INSERT`, `rowsPerStatement` rows per statement step, as the
/// recording form's `MultiRowInsert` does. Pending rows are kept in one reused
/// `PlainRowValues`, column after column: a row costs its values, not an array of
/// its own.
struct PlainInsert {
    let columnCount: Int
    private let rowsPerStatement: Int
    private let many: SQLiteStatement
    private let one: SQLiteStatement
    private var pending = PlainRowValues()

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
    mutating func add(_ values: (inout PlainRowValues) -> Void) throws {
        let before = pending.count
        values(&pending)
        precondition(pending.count - before == columnCount, "a row of \(pending.count - before) values for \(columnCount) columns")
        if pending.count == columnCount * rowsPerStatement {
            pending.bind(0..<pending.count, to: many)
            pending.removeAll()
            defer { many.reset() }
            try many.run()
        }
    }

    /// Inserts the rows still waiting for a full group, one per statement.
    mutating func finish() throws {
        defer { pending.removeAll() }
        var start = 0
        while start < pending.count {
            pending.bind(start..<(start + columnCount), to: one)
            defer { one.reset() }
            try one.run()
            start += columnCount
        }
    }
}

/// The values of a group of v7 rows, in column order. Texts are kept apart, so a
/// value is a plain 9-byte case that costs nothing to drop: clearing the group
/// releases only its strings.
struct PlainRowValues {
    private enum Slot {
        case int(Int64)
        case null
        case text(Int32)
    }
    private var slots: [Slot] = []
    private var texts: [String] = []

    var count: Int { slots.count }

    mutating func reserveCapacity(_ n: Int) { slots.reserveCapacity(n) }

    mutating func removeAll() {
        slots.removeAll(keepingCapacity: true)
        texts.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    mutating func int<T: BinaryInteger>(_ value: T) { slots.append(.int(Int64(truncatingIfNeeded: value))) }

    @inline(__always)
    mutating func int<T: BinaryInteger>(_ value: T?) {
        if let value { slots.append(.int(Int64(truncatingIfNeeded: value))) } else { slots.append(.null) }
    }

    @inline(__always)
    mutating func text(_ value: String?) {
        guard let value else { slots.append(.null); return }
        slots.append(.text(Int32(texts.count)))
        texts.append(value)
    }

    /// Binds the values in `range` to parameters 1, 2, ... of `statement`.
    func bind(_ range: Range<Int>, to statement: SQLiteStatement) {
        var index: Int32 = 1
        for slot in slots[range] {
            switch slot {
            case .int(let v): statement.bind(v, at: index)
            case .null: statement.bind(Int64?.none, at: index)
            case .text(let t): statement.bind(texts[Int(t)], at: index)
            }
            index += 1
        }
    }
}
