import ArgumentParser
import Foundation
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run read-only SQL against a trace.",
        discussion: """
        The trace is opened read-only and a statement that could write is refused \
        before it runs. docs/schema.md documents the tables (schema version 7) with \
        example queries, e.g. the misrouted dispatches:
          polltrace query T "SELECT * FROM findings WHERE kind = 'misrouted'"
        A trace its writer never closed, or of an older version, is refused with the \
        command that makes the tables (`polltrace finalize` / `polltrace upgrade`). \
        Exit codes: 0 rows printed, 2 bad input (unreadable trace, invalid SQL, a \
        refused write, an unbound parameter).
        """)

    @Argument(help: "A trace file (SQLite).")
    var trace: String

    @Argument(help: "One SQL statement, e.g. \"SELECT * FROM dispatches LIMIT 10\", or - to read it from standard input. Comments before and after it are allowed.")
    var sql: String?

    @Option(name: .long, help: "Read the SQL statement from this file instead of the command line.")
    var file: String?

    @Option(name: .long, help: ArgumentHelp("Bind a parameter of the statement (:name, @name, $name or ?N), e.g. --param n=1200. Repeatable; numbers bind as numbers.", valueName: "name=value"))
    var param: [String] = []

    @Flag(name: .long, help: "Print how long the statement took (to standard error).")
    var timer = false

    @Flag(name: .long, help: "Print comma-separated values (RFC 4180).")
    var csv = false

    @Flag(name: .long, help: "Print a JSON array with one object per row.")
    var json = false

    func validate() throws {
        if csv && json { throw ValidationError("Choose one of --csv and --json.") }
        if sql != nil && file != nil { throw ValidationError("Give the SQL as an argument or with --file, not both.") }
        if sql == nil && file == nil { throw ValidationError("Give one SQL statement (or - for standard input, or --file PATH).") }
        for p in param where !p.contains("=") || p.hasPrefix("=") {
            throw ValidationError("--param takes name=value, e.g. --param n=1200 (got '\(p)').")
        }
    }

    /// The statement's text: the argument, standard input (`-`), or `--file`.
    private func statementText() throws -> String {
        if let file {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw ValidationError("\(file): cannot read the SQL file (missing or unreadable)")
            }
            return String(decoding: data, as: UTF8.self)
        }
        if sql == "-" { return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self) }
        return sql ?? ""
    }

    private var parameters: [String: SQLiteValue] {
        var values: [String: SQLiteValue] = [:]
        for p in param {
            let name = String(p[..<p.firstIndex(of: "=")!])
            let text = String(p[p.index(after: p.firstIndex(of: "=")!)...])
            let key = name.first.map { ":@$?".contains($0) } == true ? String(name.dropFirst()) : name
            values[key] = Int64(text).map(SQLiteValue.integer) ?? Double(text).map(SQLiteValue.real) ?? .text(text)
        }
        return values
    }

    func run() throws {
        var printer: any QueryPrinter
        if csv { printer = CSVPrinter() } else if json { printer = JSONRowPrinter() } else { printer = TablePrinter() }
        let text = try statementText()
        let began = MonotonicClock.nowNs()
        do {
            try TraceQuery.run(path: trace, sql: text, parameters: parameters, header: { printer.header($0) }, row: { printer.row($0) })
        } catch {
            throw Console.badInput(error, trace: trace)
        }
        printer.finish()
        if timer {
            let seconds = Double(MonotonicClock.nowNs() - began) / 1e9
            Console.err(String(format: "elapsed: %.3f s\n", seconds))
        }
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
