import ArgumentParser
import PollTraceAnalysis
import PollTraceStore

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run read-only SQL against a trace.",
        discussion: """
        The trace is opened read-only and a statement that could write is refused \
        before it runs. See docs/schema.md for the tables and views. Exit codes: 0 \
        rows printed, 2 bad input (unreadable trace, invalid SQL, a refused write).
        """)

    @Argument(help: "A trace file (SQLite).")
    var trace: String

    @Argument(help: "One SQL statement, e.g. \"SELECT * FROM dispatches LIMIT 10\".")
    var sql: String

    @Flag(name: .long, help: "Print comma-separated values (RFC 4180).")
    var csv = false

    @Flag(name: .long, help: "Print a JSON array with one object per row.")
    var json = false

    func validate() throws {
        if csv && json { throw ValidationError("Choose one of --csv and --json.") }
    }

    func run() throws {
        var printer: any QueryPrinter
        if csv { printer = CSVPrinter() } else if json { printer = JSONRowPrinter() } else { printer = TablePrinter() }
        do {
            try TraceQuery.run(path: trace, sql: sql, header: { printer.header($0) }, row: { printer.row($0) })
        } catch {
            throw Console.badInput(error, trace: trace)
        }
        printer.finish()
    }
}

protocol QueryPrinter {
    mutating func header(_ columns: [String])
    mutating func row(_ values: [SQLiteValue])
    mutating func finish()
}

/// Aligned columns. Rows are held until the end to size the columns; use --csv or
/// --json for very large results, which stream.
struct TablePrinter: QueryPrinter {
    var columns: [String] = []
    var rows: [[String]] = []
    // Escaped for the terminal: a value with an escape sequence or a newline must
    // not rewrite the screen or add a line; --csv and --json carry values exactly.
    mutating func header(_ columns: [String]) { self.columns = columns.map(\.escapingControlCharacters) }
    mutating func row(_ values: [SQLiteValue]) { rows.append(values.map(\.description.escapingControlCharacters)) }
    mutating func finish() {
        var widths = columns.map(\.count)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in c + String(repeating: " ", count: widths[i] - c.count) }
                .joined(separator: "  ").trimmingTrailingSpaces() + "\n"
        }
        var out = line(columns)
        out += line(widths.map { String(repeating: "-", count: $0) })
        for row in rows { out += line(row) }
        out += "(\(rows.count) row\(rows.count == 1 ? "" : "s"))\n"
        Console.out(out)
    }
}

struct CSVPrinter: QueryPrinter {
    mutating func header(_ columns: [String]) { Console.out(columns.map(Self.quote).joined(separator: ",") + "\r\n") }
    mutating func row(_ values: [SQLiteValue]) {
        Console.out(values.map { v in if case .null = v { "" } else { Self.quote(v.description) } }.joined(separator: ",") + "\r\n")
    }
    mutating func finish() {}
    static func quote(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}

struct JSONRowPrinter: QueryPrinter {
    var columns: [String] = []
    var count = 0
    mutating func header(_ columns: [String]) { self.columns = columns; Console.out("[") }
    mutating func row(_ values: [SQLiteValue]) {
        let object = JSONValue.object(zip(columns, values).map { name, v in
            switch v {
            case .null: (name, .null)
            case .integer(let i): (name, .int(i))
            case .real(let d): (name, d.isFinite ? .number(String(d)) : .null)
            case .text(let s): (name, .string(s))
            case .blob: (name, .string(v.description))
            }
        })
        let text = object.rendered().split(separator: "\n").joined(separator: "\n  ")
        Console.out((count == 0 ? "\n  " : ",\n  ") + text)
        count += 1
    }
    mutating func finish() { Console.out(count == 0 ? "]\n" : "\n]\n") }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
