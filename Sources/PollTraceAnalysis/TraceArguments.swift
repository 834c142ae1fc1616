import Foundation
import Glibc

/// Turns `polltrace analyze`'s arguments into trace files: a file stays itself, a
/// directory becomes the trace files in it (`*.sqlite`, `*.trace`; not recursive),
/// and a glob pattern the shell did not expand (quoted, or from a script) becomes
/// its matches. An argument that yields nothing is an error for that argument only.
public enum TraceArguments {
    public struct Expansion: Sendable {
        /// In the order given; a directory's or a pattern's files sorted by name.
        public var paths: [String] = []
        /// (argument, what is wrong), for arguments that yield no trace.
        public var errors: [(argument: String, message: String)] = []
        /// Paths and errors together, in argument order: what a fleet report lists.
        public var items: [Item] = []
    }

    public enum Item: Sendable {
        case trace(String)
        case error(argument: String, message: String)
    }

    /// File names taken from a directory.
    public static let traceSuffixes = [".sqlite", ".trace"]

    public static func expand(_ arguments: [String]) -> Expansion {
        var expansion = Expansion()
        // No de-duplication: each argument stands for its own traces, as given.
        func add(_ path: String) {
            expansion.paths.append(path)
            expansion.items.append(.trace(path))
        }
        func fail(_ argument: String, _ message: String) {
            expansion.errors.append((argument, message))
            expansion.items.append(.error(argument: argument, message: message))
        }
        for argument in arguments {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
                guard isDirectory.boolValue else { add(argument); continue }
                let files = traceFiles(inDirectory: argument)
                if files.isEmpty {
                    fail(argument, "\(argument): a directory with no trace files (\(traceSuffixes.map { "*" + $0 }.joined(separator: ", "))) in it")
                }
                files.forEach(add)
            } else if argument.contains(where: { "*?[".contains($0) }) {
                let matches = glob(argument)
                if matches.isEmpty { fail(argument, "\(argument): no file matches this pattern") }
                for match in matches {
                    var matchIsDirectory: ObjCBool = false
                    if FileManager.default.fileExists(atPath: match, isDirectory: &matchIsDirectory), matchIsDirectory.boolValue {
                        traceFiles(inDirectory: match).forEach(add)
                    } else {
                        add(match)
                    }
                }
            } else {
                add(argument) // does not exist: the analysis says so, as for one trace
            }
        }
        return expansion
    }

    static func traceFiles(inDirectory directory: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let base = directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        return names.filter { name in traceSuffixes.contains { name.hasSuffix($0) } }.sorted()
            .map { base + "/" + $0 }
            .filter { path in
                var isDirectory: ObjCBool = false
                return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
            }
    }

    /// glob(3): the matches in sorted order, none on no match or error.
    static func glob(_ pattern: String) -> [String] {
        var result = glob_t()
        defer { globfree(&result) }
        guard Glibc.glob(pattern, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }
}
