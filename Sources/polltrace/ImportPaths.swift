import ArgumentParser
import Foundation
import Glibc

/// The file checks `import` (and `record`) make before writing anything, and the
/// staging file the trace is written to first.
enum ImportPaths {
    /// Exit 2 with a message when the log cannot be read, or the trace would
    /// replace the log itself (same file by device and inode: also through a
    /// symlink or a hard link), or exists without `--force`.
    static func check(log: String, trace: String, force: Bool) throws {
        var logInfo = stat()
        guard stat(log, &logInfo) == 0 else {
            throw ImportOutput.fail("\(log): \(String(cString: strerror(errno)))")
        }
        if (logInfo.st_mode & S_IFMT) == S_IFDIR {
            throw ImportOutput.fail("\(log) is a directory, not an strace log")
        }
        let fd = open(log, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw ImportOutput.fail("\(log): cannot read it: \(String(cString: strerror(errno)))") }
        close(fd)
        var traceInfo = stat()
        guard stat(trace, &traceInfo) == 0 else { return }  // a new file
        if traceInfo.st_dev == logInfo.st_dev && traceInfo.st_ino == logInfo.st_ino {
            throw ImportOutput.fail("-o \(trace) is the log \(log) itself; writing the trace there would destroy the log")
        }
        if (traceInfo.st_mode & S_IFMT) == S_IFDIR {
            throw ImportOutput.fail("-o \(trace) is a directory; give the trace file's path")
        }
        if !force {
            throw ImportOutput.fail("\(trace) already exists (use --force to replace it)")
        }
    }

    /// A hidden file in the trace's directory (so the final rename stays on one
    /// file system), unique to this process.
    static func stagingPath(for trace: String) -> String {
        let url = URL(fileURLWithPath: trace)
        let directory = url.deletingLastPathComponent().path
        return "\(directory)/.\(url.lastPathComponent).importing-\(getpid())"
    }

    /// Deletes a staging file and whatever SQLite left beside it.
    static func remove(_ path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }
}
