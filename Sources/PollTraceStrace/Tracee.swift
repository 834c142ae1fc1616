import Foundation

/// The processes strace started: strace ignores SIGINT and SIGTERM while it runs a
/// command (so that Ctrl-C reaches the program), so stopping a recording means
/// signalling the program, not strace.
public enum Tracee {
    /// The direct children of `pid` (Linux `/proc/PID/task/*/children`).
    public static func children(of pid: Int32) -> [Int32] {
        let tasks = "/proc/\(pid)/task"
        let threads = (try? FileManager.default.contentsOfDirectory(atPath: tasks)) ?? []
        var result: [Int32] = []
        for thread in threads {
            guard let text = try? String(contentsOfFile: "\(tasks)/\(thread)/children", encoding: .utf8) else { continue }
            result += text.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return result
    }
}
