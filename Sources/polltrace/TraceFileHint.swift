import Foundation
import PollTraceStore
import Glibc

/// What to add to an error about a trace that SQLite could not read, when the
/// cause is a file missing beside it rather than the trace itself.
///
/// A trace whose writer did not finish (killed, crashed, disk full) is still in
/// WAL mode: its newest records are in `TRACE-wal`, and reading it needs
/// `TRACE-shm`, which SQLite creates if the directory is writable. Copied without
/// its `-wal`, the trace holds only what was checkpointed, and looks empty ("no
/// tables") if that was nothing (the reader reads the rest and its reports say what
/// is missing); on a read-only file system without its `-shm`, SQLite fails with
/// "No such file or directory". Neither message says what to do.
enum TraceFileHint {
    static func explain(_ path: String) -> String? {
        guard TraceFileCheck.isInWALMode(path: path) else { return nil }
        let wal = path + "-wal", shm = path + "-shm"
        if TraceFileCheck.writeAheadLogIsMissing(path: path) {
            return "the trace was not closed cleanly (it is still in WAL mode) and its write-ahead log \(wal) is not "
                + "beside it: its records since the last checkpoint are in that file. Copy the trace together with its -wal file."
        }
        if access(shm, F_OK) != 0, !directoryIsWritable(of: path) {
            return "the trace was not closed cleanly (it is still in WAL mode); reading it needs \(shm), which SQLite "
                + "cannot create here (the directory is read-only). Copy the trace and its -wal file to a writable directory."
        }
        return nil
    }

    private static func directoryIsWritable(of path: String) -> Bool {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var info = statvfs()
        if statvfs(directory, &info) == 0, info.f_flag & UInt(ST_RDONLY) != 0 { return false }
        return access(directory, W_OK) == 0
    }
}
