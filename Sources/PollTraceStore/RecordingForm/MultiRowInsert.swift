/// A row that knows how to bind itself to consecutive `?` parameters, one per
/// column of its `MultiRowInsert`.
protocol BindableRow {
    func bind(to statement: SQLiteStatement, at firstParameter: Int32)
}

/// Inserts rows `rowsPerStatement` at a time with one multi-row `INSERT … VALUES
/// (…), (…), …` statement, and the remainder one at a time. One statement step
/// for 32 rows is the known way past SQLite's single-row INSERT ceiling: the VM's
/// per-statement overhead is paid once per group.
struct MultiRowInsert<Row: BindableRow> {
    let rowsPerStatement: Int
    /// Parameters each row binds.
    let columnCount: Int32
    private let many: SQLiteStatement
    private let one: SQLiteStatement
    private var pending: [Row] = []

    init(connection: SQLiteConnection, table: String, columns: [String], rowsPerStatement: Int) throws {
        self.rowsPerStatement = rowsPerStatement
        columnCount = Int32(columns.count)
        let tuple = "(" + Array(repeating: "?", count: columns.count).joined(separator: ",") + ")"
        // OR FAIL, not the default ABORT. To undo just a failed statement, ABORT
        // makes SQLite copy each page a multi-row INSERT changes into a statement
        // journal first. Rows that arrive below already-committed ones (one
        // poller's records committed after another's later-numbered ones) split
        // pages mid-tree, the journal outgrows memory, and from then on it is a
        // temp file written 16 KiB per statement: the daemon's writer wrote 13
        // bytes per byte of trace. FAIL keeps the statement's earlier rows
        // instead, which changes nothing here: every seq is unique, and on any
        // error the writer rolls the whole transaction back.
        let head = "INSERT OR FAIL INTO \(table)(\(columns.joined(separator: ","))) VALUES "
        many = try connection.makeStatement(sql: head + Array(repeating: tuple, count: rowsPerStatement).joined(separator: ","),
                                            parameters: columns.count * rowsPerStatement)
        one = try connection.makeStatement(sql: head + tuple, parameters: columns.count)
        pending.reserveCapacity(rowsPerStatement)
    }

    @inline(__always)
    mutating func add(_ row: Row) throws {
        pending.append(row)
        if pending.count == rowsPerStatement { try flushFull() }
    }

    private mutating func flushFull() throws {
        var parameter: Int32 = 1
        for row in pending {
            row.bind(to: many, at: parameter)
            parameter += columnCount
        }
        pending.removeAll(keepingCapacity: true)
        defer { many.reset() }
        try many.run()
    }

    /// Inserts what is left, one row per statement.
    mutating func finish() throws {
        defer { pending.removeAll(keepingCapacity: true) }
        for row in pending {
            row.bind(to: one, at: 1)
            defer { one.reset() }
            try one.run()
        }
    }

    /// Forgets rows not yet inserted (after a failed transaction).
    mutating func discard() { pending.removeAll(keepingCapacity: true) }
}

extension RecordRow: BindableRow {
    static let columns = ["seq", "tag", "t", "a", "b", "c", "d", "e", "f"]

    @inline(__always)
    func bind(to statement: SQLiteStatement, at p: Int32) {
        statement.bind(seq, at: p)
        statement.bind(tag, at: p + 1)
        statement.bind(t, at: p + 2)
        statement.bind(a, at: p + 3)
        statement.bind(b, at: p + 4)
        statement.bind(c, at: p + 5)
        statement.bind(d, at: p + 6)
        statement.bind(e, at: p + 7)
        statement.bind(f, at: p + 8)
    }
}

/// One row of `batch_event_rows`.
struct EventRow: BindableRow {
    var id: Int64
    var fd: Int64
    var mask: Int64
    var dataHigh: Int64
    var dataLow: Int64?
    static let columns = ["id", "fd", "mask", "data_hi", "data_lo"]

    @inline(__always)
    func bind(to statement: SQLiteStatement, at p: Int32) {
        statement.bind(id, at: p)
        statement.bind(fd, at: p + 1)
        statement.bind(mask, at: p + 2)
        statement.bind(dataHigh, at: p + 3)
        statement.bind(dataLow, at: p + 4)
    }
}

/// One row of `syscall_rows`: a call, and (v4) the later calls packed after it
/// (`SyscallPacking`).
struct SyscallRow: BindableRow {
    var seq: Int64, poller: Int64, t: Int64, tid: Int64, fd: Int64, nameID: Int64
    var result: Int64, errno: Int64, isData: Int64, sourceLine: Int64
    var more: PackedTextBytes? = nil
    static let columns = ["seq", "poller", "t", "tid", "fd", "name_id", "result", "errno", "is_data", "source_line", "more"]

    func bind(to statement: SQLiteStatement, at p: Int32) {
        statement.bind(seq, at: p); statement.bind(poller, at: p + 1); statement.bind(t, at: p + 2)
        statement.bind(tid, at: p + 3); statement.bind(fd, at: p + 4); statement.bind(nameID, at: p + 5)
        statement.bind(result, at: p + 6); statement.bind(errno, at: p + 7); statement.bind(isData, at: p + 8)
        statement.bind(sourceLine, at: p + 9); statement.bindText(more, at: p + 10)
    }
}

/// A batch's row of `records` in schema v3: `e` is its packed events (JSON text,
/// `BatchPacking`), `f` how many dispatches are packed in it.
struct BatchRow: BindableRow {
    var seq: Int64, tag: Int64, t: Int64, batchNumber: Int64, timeout: Int64, waited: Int64, eventCount: Int64
    var events: PackedTextBytes?
    var packedDispatches: Int64?
    static let columns = RecordRow.columns

    @inline(__always)
    func bind(to statement: SQLiteStatement, at p: Int32) {
        statement.bind(seq, at: p)
        statement.bind(tag, at: p + 1)
        statement.bind(t, at: p + 2)
        statement.bind(batchNumber, at: p + 3)
        statement.bind(timeout, at: p + 4)
        statement.bind(waited, at: p + 5)
        statement.bind(eventCount, at: p + 6)
        statement.bindText(events, at: p + 7)
        statement.bind(packedDispatches, at: p + 8)
    }
}
