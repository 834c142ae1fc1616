/// Why a trace could not be opened, read or written. Each case names the file and
/// says what is wrong with it in words a user can act on.
public enum TraceStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    case fileNotFound(path: String)
    case emptyFile(path: String)
    /// The file does not start with SQLite's header.
    case notSQLite(path: String)
    /// A directory where a trace file was expected, such as the daemon's `traces/`.
    /// `traces` are the trace files in it, newest first, to name in the message.
    case directory(path: String, traces: [String])
    /// SQLite says the file is damaged, or it is shorter than its header says.
    case corrupted(path: String, detail: String)
    /// A SQLite database, but not one PollTrace wrote.
    case notATrace(path: String, detail: String)
    case newerSchema(path: String, found: Int, supported: Int)
    /// A trace whose metadata (the `meta` table or one of its keys) is missing or unreadable.
    case missingMetadata(path: String, what: String)
    /// Creating or writing the trace failed (disk full, permissions, a size limit...).
    case writeFailed(path: String, detail: String)
    /// The writer was used after `close()`.
    case writerClosed(path: String)
    /// Any other SQLite failure while reading.
    case readFailed(path: String, detail: String)

    public var path: String {
        switch self {
        case .fileNotFound(let p), .emptyFile(let p), .notSQLite(let p), .directory(let p, _), .corrupted(let p, _),
             .notATrace(let p, _), .newerSchema(let p, _, _), .missingMetadata(let p, _),
             .writeFailed(let p, _), .writerClosed(let p), .readFailed(let p, _):
            p
        }
    }

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "\(path): no such file"
        case .emptyFile(let path):
            "\(path): the file is empty (0 bytes), not a trace"
        case .notSQLite(let path):
            "\(path): not a SQLite database (its first bytes are not the SQLite header), so not a PollTrace trace"
        case .directory(let path, let traces):
            if let newest = traces.first {
                "\(path): a directory, not a trace file; it holds \(traces.count) trace file\(traces.count == 1 ? "" : "s"), the newest \(newest)"
            } else {
                "\(path): a directory, not a trace file, and it holds no .sqlite or .trace files"
            }
        case .corrupted(let path, let detail):
            "\(path): the trace is truncated or corrupted: \(detail)"
        case .notATrace(let path, let detail):
            "\(path): a SQLite database, but not a PollTrace trace: \(detail)"
        case .newerSchema(let path, let found, let supported):
            "\(path): written with trace schema version \(found); this PollTrace reads versions up to \(supported). Use a newer PollTrace"
        case .missingMetadata(let path, let what):
            "\(path): the trace's metadata is missing: \(what)"
        case .writeFailed(let path, let detail):
            "\(path): writing the trace failed: \(detail)"
        case .writerClosed(let path):
            "\(path): the trace writer is already closed"
        case .readFailed(let path, let detail):
            "\(path): reading the trace failed: \(detail)"
        }
    }
}
