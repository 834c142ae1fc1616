import Foundation
import Glibc

/// The `.writing` files a daemon killed while it made a trace's v7 tables leaves in
/// its trace directory. Finishing a file builds the tables in `NAME.sqlite.writing`
/// and renames it over `NAME.sqlite` only when complete, so a SIGKILL in between
/// (a stop timeout, the OOM killer) loses nothing: `NAME.sqlite` still holds the
/// complete recording form, which analyze reads and `polltrace finalize` turns into
/// tables. The half-built copy is only bytes, often larger than the recording, and
/// nothing else would ever remove it.
enum UnfinishedTableCopies {
    static let suffix = ".sqlite.writing"

    /// The copies in `directory` that a dead process of this daemon's naming left
    /// (`<prefix>-<time>-<pid>-<n>.sqlite.writing`, the pid not running). A copy whose
    /// pid runs is another daemon's, still being written, and is left alone.
    static func abandoned(in directory: String, prefix: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { name in
            guard name.hasPrefix(prefix + "-"), name.hasSuffix(suffix),
                  let pid = writerPID(of: name), pid != getpid() else { return false }
            return !processIsRunning(pid)
        }.sorted().map { directory + "/" + $0 }
    }

    /// The pid in `<prefix>-<time>-<pid>-<n>.sqlite.writing`: the second field from
    /// the end, so a prefix with dashes in it does not matter.
    static func writerPID(of name: String) -> Int32? {
        let fields = name.dropLast(suffix.count).split(separator: "-")
        guard fields.count >= 3, Int(fields[fields.count - 1]) != nil else { return nil }
        return Int32(fields[fields.count - 2])
    }

    /// `kill(pid, 0)`: ESRCH means no such process. EPERM means one runs that this
    /// user may not signal, which is still running.
    static func processIsRunning(_ pid: Int32) -> Bool {
        guard pid > 0 else { return false }
        return kill(pid, 0) == 0 || errno != ESRCH
    }
}
