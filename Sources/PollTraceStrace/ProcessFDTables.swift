/// Names an open file (what the kernel calls a `struct file`): what an fd refers
/// to. A dup or a fork makes two fds refer to one open file, and epoll keeps a
/// registration until its *open file* is released, not its fd. Numbered from 1 in
/// the order the log creates them.
typealias OpenFileID = UInt64

/// One process's fd table, shared by the threads it created with `CLONE_FILES`:
/// each open fd with the open file it refers to.
final class ProcessFDTable {
    /// Numbers tables in the order they appear, from 1; stored in `strace_lines.fd_table`.
    let id: UInt32
    /// Open fd → the open file it refers to.
    var openFiles: [Int32: OpenFileID]

    init(id: UInt32, openFiles: [Int32: OpenFileID] = [:]) { self.id = id; self.openFiles = openFiles }
}

/// The fd tables of every process in a log, following clone flags: a thread
/// (`CLONE_FILES`) shares its parent's table; `fork`, `vfork` and `clone` without
/// `CLONE_FILES` copy it.
///
/// strace often prints a child's first line before the parent's `clone` returns, so
/// a new tid is matched to the clone call that is still unfinished in some thread.
/// A tid that appears with no clone in the log (attached with `-p`, or clone not
/// traced) is taken to be a thread of the first process: event loops add threads far
/// more often than they fork, and a fork is traced whenever `polltrace record` runs.
struct ProcessFDTables {
    private(set) var tables: [Int32: ProcessFDTable] = [:]
    private var nextTableID: UInt32 = 1
    /// How many fds, in every table, refer to each open file.
    private var fileReferences: [OpenFileID: Int] = [:]
    private var nextFileID: OpenFileID = 1
    private var firstTID: Int32?
    /// The tid used for lines with no pid prefix, until the log names that thread.
    static let unprefixedTID: Int32 = 0
    /// Clones started but not yet returned: parent tid → whether the child shares files.
    var clonesInFlight: [Int32: Bool] = [:]
    /// Children whose clone returned before they printed anything.
    private var announcedChildren: [Int32: ProcessFDTable] = [:]

    /// The table `tid` uses, creating or attaching it by the rules above.
    mutating func table(for tid: Int32) -> ProcessFDTable {
        if let table = tables[tid] { return table }
        if let table = announcedChildren.removeValue(forKey: tid) {
            tables[tid] = table
            return table
        }
        if let (parent, shares) = clonesInFlight.first, let parentTable = tables[parent] {
            let table = shares ? parentTable : copy(parentTable)
            tables[tid] = table
            clonesInFlight[parent] = nil
            return table
        }
        if let first = firstTID, let firstTable = tables[first] {
            tables[tid] = firstTable
            return firstTable
        }
        let table = ProcessFDTable(id: nextTableID)
        nextTableID += 1
        firstTID = tid
        tables[tid] = table
        return table
    }

    /// The thread strace printed without a prefix turned out to be `tid`.
    mutating func rename(_ old: Int32, to tid: Int32) {
        if let table = tables.removeValue(forKey: old) { tables[tid] = table }
        if let shares = clonesInFlight.removeValue(forKey: old) { clonesInFlight[tid] = shares }
        if firstTID == old { firstTID = tid }
    }

    /// `clone`/`fork` returned `child` in `parent`.
    mutating func cloned(parent: Int32, child: Int32, sharesFiles: Bool) {
        guard tables[child] == nil, let parentTable = tables[parent] else { return }
        announcedChildren[child] = sharesFiles ? parentTable : copy(parentTable)
    }

    /// `unshare(CLONE_FILES)` or `close_range(…, CLOSE_RANGE_UNSHARE)`.
    mutating func unshare(_ tid: Int32) {
        guard let table = tables[tid] else { return }
        tables[tid] = copy(table)
    }

    mutating func threadExited(_ tid: Int32) {
        tables[tid] = nil
    }

    private mutating func copy(_ table: ProcessFDTable) -> ProcessFDTable {
        for file in table.openFiles.values { fileReferences[file, default: 0] += 1 }
        let copy = ProcessFDTable(id: nextTableID, openFiles: table.openFiles)
        nextTableID += 1
        return copy
    }

    /// A new open file at `fd`. Returns the file that was at `fd` if the log never
    /// showed it closed (so the caller can report it and close it first).
    mutating func open(_ fd: Int32, in table: ProcessFDTable) -> OpenFileID {
        let file = nextFileID
        nextFileID += 1
        table.openFiles[fd] = file
        fileReferences[file] = 1
        return file
    }

    /// `fd` now refers to the same file as `source` (dup, F_DUPFD).
    mutating func duplicate(_ source: Int32, to fd: Int32, in table: ProcessFDTable) {
        guard let file = table.openFiles[source] else { _ = open(fd, in: table); return }
        table.openFiles[fd] = file
        fileReferences[file, default: 0] += 1
    }

    /// Closes `fd`. Returns its file and whether that was the file's last reference
    /// (then the kernel drops every epoll registration of the file), or nil when the
    /// fd was not open as far as the log shows.
    mutating func close(_ fd: Int32, in table: ProcessFDTable) -> (file: OpenFileID, lastReference: Bool)? {
        guard let file = table.openFiles.removeValue(forKey: fd) else { return nil }
        let remaining = (fileReferences[file] ?? 1) - 1
        if remaining <= 0 { fileReferences[file] = nil } else { fileReferences[file] = remaining }
        return (file, remaining <= 0)
    }
}
