/// The v7 tables that records become rows of, with their insert columns in the
/// order `PlainRowWriter` appends values.
enum PlainTable: Int, CaseIterable {
    case fdOpens, registrations, modifications, unregistrations, fdCloses, batches, batchEvents, dispatches
    case gaps, failedCalls, syscalls, findings

    var name: String {
        switch self {
        case .fdOpens: "fd_opens"
        case .registrations: "registrations"
        case .modifications: "modifications"
        case .unregistrations: "unregistrations"
        case .fdCloses: "fd_closes"
        case .batches: "batches"
        case .batchEvents: "batch_events"
        case .dispatches: "dispatches"
        case .gaps: "gaps"
        case .failedCalls: "failed_calls"
        case .syscalls: "syscalls"
        case .findings: "findings"
        }
    }

    var columns: [String] {
        switch self {
        case .fdOpens: ["seq", "poller", "rel_ns", "fd", "origin_code"]
        case .registrations:
            ["registered_seq", "registration_id", "poller", "fd", "interest", "data", "handler_label",
             "registered_rel_ns", "fd_opened_seq", "unregistered_seq", "closed_seq", "ended_rel_ns"]
        case .modifications: ["seq", "poller", "rel_ns", "fd", "registration_id", "interest"]
        case .unregistrations: ["seq", "poller", "rel_ns", "fd", "registration_id"]
        case .fdCloses: ["seq", "poller", "rel_ns", "fd"]
        case .batches: ["seq", "poller", "rel_ns", "batch_number", "timeout_ms", "waited_ns", "event_count"]
        case .batchEvents:
            ["batch_seq", "event_index", "poller", "batch_number", "fd", "mask", "data", "harvest_rel_ns",
             "harvested_registration_id"]
        case .dispatches:
            ["seq", "poller", "rel_ns", "source_code", "batch_seq", "event_index", "fd", "harvested_mask",
             "harvested_data", "harvested_registration_id", "ran_registration_id", "handler_label", "delivered_mask",
             "suppression_code", "handler_threw", "duration_ns", "verdict_code"]
        case .gaps: ["seq", "rel_ns", "first_lost_seq", "last_lost_seq", "lost_count", "from_rel_ns", "to_rel_ns"]
        case .failedCalls: ["seq", "poller", "rel_ns", "fd", "call_code", "errno"]
        case .syscalls: ["seq", "poller", "rel_ns", "tid", "fd", "name", "result", "errno", "is_data_call", "source_line"]
        case .findings:
            ["kind", "seq", "poller", "fd", "mask", "batch_seq", "event_index", "harvested_registration_id",
             "harvested_label", "ran_registration_id", "ran_label", "closed_seq", "closed_by_label", "reused_seq",
             "reused_by_label", "spin_batches", "detail"]
        }
    }

    /// `columns.count` of each table, by raw value: checked on every row added.
    static let columnCounts: [Int] = allCases.map { $0.columns.count }
}

/// Rows made from records but not yet inserted, table by table in seq order. They
/// are plain values with no tie to a connection, so one thread can make them while
/// another inserts the previous lot (`PlainTraceWriter`).
struct PlainRows {
    private(set) var tables: [PlainRowValues]
    private(set) var count = 0

    init() { tables = PlainTable.allCases.map { _ in PlainRowValues() } }

    var isEmpty: Bool { count == 0 }

    /// Adds one row to `table`: `values` appends its values in column order.
    @inline(__always)
    mutating func add(_ table: PlainTable, _ values: (inout PlainRowValues) -> Void) {
        let before = tables[table.rawValue].count
        values(&tables[table.rawValue])
        precondition(tables[table.rawValue].count - before == PlainTable.columnCounts[table.rawValue],
                     "a row of \(tables[table.rawValue].count - before) values for \(table.name)")
        count += 1
    }

    /// Empties every table, keeping the storage for the next rows.
    mutating func removeAll() {
        for i in tables.indices { tables[i].removeAll() }
        count = 0
    }
}

/// The values of one table's pending rows, in column order. Texts are kept apart,
/// so a value is a plain 9-byte case that costs nothing to drop: clearing the rows
/// releases only their strings.
struct PlainRowValues {
    private enum Slot {
        case int(Int64)
        case null
        case text(Int32)
    }
    private var slots: [Slot] = []
    private var texts: [String] = []

    var count: Int { slots.count }

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
