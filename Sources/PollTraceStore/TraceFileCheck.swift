#if canImport(Glibc)
import Glibc
#endif

/// Looks at a file before SQLite does, so that the common ways of pointing at the
/// wrong file get their own clear error instead of SQLite's generic one: missing,
/// empty, not SQLite, or shorter than its own header says (truncated).
public enum TraceFileCheck {
    static let sqliteMagic: [UInt8] = Array("SQLite format 3\0".utf8)

    /// Throws for a file that cannot be a trace; returns whether it is in WAL mode.
    @discardableResult
    static func check(path: String) throws -> Bool {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { throw TraceStoreError.fileNotFound(path: path) }
            throw TraceStoreError.readFailed(path: path, detail: String(cString: strerror(errno)))
        }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            throw TraceStoreError.directory(path: path, traces: traceFiles(in: path))
        }
        let size = Int(info.st_size)
        if size == 0 { throw TraceStoreError.emptyFile(path: path) }

        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TraceStoreError.readFailed(path: path, detail: String(cString: strerror(errno))) }
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 100)
        let got = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 100, 0) }
        guard got >= sqliteMagic.count, Array(header[0..<sqliteMagic.count]) == sqliteMagic else {
            throw TraceStoreError.notSQLite(path: path)
        }
        guard got == 100 else {
            throw TraceStoreError.corrupted(path: path, detail: "the file is \(size) bytes, shorter than SQLite's 100-byte header")
        }
        let rawPageSize = Int(header[16]) << 8 | Int(header[17])
        let pageSize = rawPageSize == 1 ? 65536 : rawPageSize
        guard pageSize >= 512, pageSize & (pageSize - 1) == 0 else {
            throw TraceStoreError.corrupted(path: path, detail: "the header's page size \(rawPageSize) is invalid")
        }
        func be32(_ offset: Int) -> Int {
            Int(header[offset]) << 24 | Int(header[offset + 1]) << 16 | Int(header[offset + 2]) << 8 | Int(header[offset + 3])
        }
        // In WAL mode (header bytes 18 and 19 are 2) the file's size says nothing
        // by itself: committed pages may live only in the `-wal` file, and a
        // checkpoint cut short by a full disk leaves the file a partial page longer.
        // SQLite reads such a trace correctly, and so must we; its own checks apply.
        if header[18] == 2 && header[19] == 2 { return true }
        if size % pageSize != 0 {
            throw TraceStoreError.corrupted(path: path, detail: "the file is \(size) bytes, not a whole number of \(pageSize)-byte pages (truncated?)")
        }
        // The in-header page count is valid only when "version-valid-for" matches the
        // change counter (SQLite file format, section 1.3.7).
        let pageCount = be32(28)
        if be32(92) == be32(24), pageCount > 0, size < pageCount * pageSize {
            throw TraceStoreError.corrupted(path: path, detail: "the file is \(size) bytes but its header says \(pageCount) pages of \(pageSize) bytes (\(pageCount * pageSize) bytes): it was truncated")
        }
        return false
    }

    /// Whether `path` is an SQLite file in WAL mode (its writer never closed it);
    /// false for anything that cannot be a trace.
    public static func isInWALMode(path: String) -> Bool { (try? check(path: path)) ?? false }

    /// A trace in WAL mode whose `-wal` file is absent or empty: copied without
    /// it, or left by a writer killed after a checkpoint. What it holds is the main
    /// file's content, up to the last checkpoint.
    public static func writeAheadLogIsMissing(path: String) -> Bool {
        var info = stat()
        return stat(path + "-wal", &info) != 0 || info.st_size == 0
    }

    /// The trace files directly in `directory` (`.sqlite`, `.trace`), newest first,
    /// as paths: what a user who named the daemon's trace directory most likely meant.
    static func traceFiles(in directory: String) -> [String] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var found: [(path: String, modified: Int)] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasSuffix(".sqlite") || name.hasSuffix(".trace") else { continue }
            let path = directory.hasSuffix("/") ? directory + name : directory + "/" + name
            var info = stat()
            guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
            found.append((path, info.st_mtim.tv_sec * 1_000_000_000 + info.st_mtim.tv_nsec))
        }
        return found.sorted { ($0.modified, $0.path) > ($1.modified, $1.path) }.map(\.path)
    }
}
