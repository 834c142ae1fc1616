import Foundation
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
        guard isInWALMode(path) else { return nil }
        let wal = path + "-wal", shm = path + "-shm"
        // An empty -wal is what SQLite leaves when it opened the trace without one.
        if fileSize(wal) ?? 0 == 0 {
            return "the trace was not closed cleanly (it is still in WAL mode) and its write-ahead log \(wal) is not "
                + "beside it: its records since the last checkpoint are in that file. Copy the trace together with its -wal file."
        }
        if access(shm, F_OK) != 0, !directoryIsWritable(of: path) {
            return "the trace was not closed cleanly (it is still in WAL mode); reading it needs \(shm), which SQLite "
                + "cannot create here (the directory is read-only). Copy the trace and its -wal file to a writable directory."
        }
        return nil
    }

    /// Byte 18 and 19 of an SQLite header are the read and write format versions:
    /// 2 means WAL.
    private static func isInWALMode(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 20)
        guard pread(fd, &header, 20, 0) == 20 else { return false }
        return header.starts(with: Array("SQLite format 3\0".utf8)) && header[18] == 2 && header[19] == 2
    }

    private static func fileSize(_ path: String) -> Int? {
        var info = stat()
        return stat(path, &info) == 0 ? Int(info.st_size) : nil
    }

    private static func directoryIsWritable(of path: String) -> Bool {
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var info = statvfs()
        if statvfs(directory, &info) == 0, info.f_flag & UInt(ST_RDONLY) != 0 { return false }
        return access(directory, W_OK) == 0
    }
}
