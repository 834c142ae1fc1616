/// Names an open file (what the kernel calls a `struct file`): what an fd refers
/// to. A dup or a fork makes two fds refer to one open file, and epoll keeps a
/// registration until its *open file* is released, not its fd. Numbered from 1 in
/// the order the log creates them.
typealias OpenFileID = UInt64

/// Which fd table a thread uses: its slot in `ProcessFDTables`, and the table's id.
/// A plain value: the importer passes it through every call it follows.
struct FDTableRef: Equatable {
    let slot: Int
    /// Numbers tables in the order they appear, from 1; stored in `strace_lines.fd_table`.
    let id: UInt32
}

/// One process's fd table, shared by the threads it created with `CLONE_FILES`:
/// each open fd with the open file it refers to.
struct ProcessFDTable {
    var id: UInt32
    /// Open fd → the open file it refers to.
    var openFiles = SmallKeyMap<OpenFileID>()
    /// Threads and announced children that use it; at 0 its slot is free for the next table.
    var users = 0
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
    private(set) var tables: [Int32: FDTableRef] = [:]
    /// The tables, by slot; a slot whose table no thread uses any more is reused,
    /// so memory follows the live processes, not every process the log showed.
    private var slots: [ProcessFDTable] = []
    private var freeSlots: [Int] = []
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
    private var announcedChildren: [Int32: FDTableRef] = [:]

    /// The table `tid` uses, creating or attaching it by the rules above.
    mutating func table(for tid: Int32) -> FDTableRef {
        if let table = tables[tid] { return table }
        if let table = announcedChildren.removeValue(forKey: tid) {
            tables[tid] = table
            return table
        }
        if let (parent, shares) = clonesInFlight.first, let parentTable = tables[parent] {
            let table = shares ? parentTable : copy(parentTable)
            use(table)
            tables[tid] = table
            clonesInFlight[parent] = nil
            return table
        }
        if let first = firstTID, let firstTable = tables[first] {
            use(firstTable)
            tables[tid] = firstTable
            return firstTable
        }
        let table = makeTable(openFiles: SmallKeyMap())
        use(table)
        firstTID = tid
        tables[tid] = table
        return table
    }

    /// The open file at `fd` in `table`, if the fd is open as far as the log shows.
    @inline(__always)
    func file(_ fd: Int32, in table: FDTableRef) -> OpenFileID? {
        slots[table.slot].openFiles[SmallKeyMap<OpenFileID>.key(fd)]
    }

    /// The open fds of `table`, in increasing order.
    func openFDs(in table: FDTableRef) -> [Int32] {
        var fds: [Int32] = []
        slots[table.slot].openFiles.forEach { key, _ in fds.append(Int32(bitPattern: UInt32(truncatingIfNeeded: key))) }
        return fds.sorted()
    }

    /// The thread strace printed without a prefix turned out to be `tid`.
    mutating func rename(_ old: Int32, to tid: Int32) {
        if let table = tables.removeValue(forKey: old) {
            if let replaced = tables.updateValue(table, forKey: tid) { release(replaced) }
        }
        if let shares = clonesInFlight.removeValue(forKey: old) { clonesInFlight[tid] = shares }
        if firstTID == old { firstTID = tid }
    }

    /// `clone`/`fork` returned `child` in `parent`.
    mutating func cloned(parent: Int32, child: Int32, sharesFiles: Bool) {
        guard tables[child] == nil, let parentTable = tables[parent] else { return }
        let table = sharesFiles ? parentTable : copy(parentTable)
        use(table)
        if let replaced = announcedChildren.updateValue(table, forKey: child) { release(replaced) }
    }

    /// `unshare(CLONE_FILES)` or `close_range(…, CLOSE_RANGE_UNSHARE)`.
    mutating func unshare(_ tid: Int32) {
        guard let table = tables[tid] else { return }
        let copied = copy(table)
        use(copied)
        tables[tid] = copied
        release(table)
    }

    mutating func threadExited(_ tid: Int32) {
        if let table = tables.removeValue(forKey: tid) { release(table) }
    }

    private mutating func copy(_ table: FDTableRef) -> FDTableRef {
        let openFiles = slots[table.slot].openFiles
        openFiles.forEach { _, file in fileReferences[file, default: 0] += 1 }
        return makeTable(openFiles: openFiles)
    }

    private mutating func makeTable(openFiles: SmallKeyMap<OpenFileID>) -> FDTableRef {
        let table = ProcessFDTable(id: nextTableID, openFiles: openFiles)
        nextTableID += 1
        if let slot = freeSlots.popLast() {
            slots[slot] = table
            return FDTableRef(slot: slot, id: table.id)
        }
        slots.append(table)
        return FDTableRef(slot: slots.count - 1, id: table.id)
    }

    private mutating func use(_ table: FDTableRef) { slots[table.slot].users += 1 }

    /// One user fewer; the last one frees the slot. The files' reference counts stay:
    /// a process that ends does not close its fds in the log.
    private mutating func release(_ table: FDTableRef) {
        slots[table.slot].users -= 1
        guard slots[table.slot].users <= 0 else { return }
        slots[table.slot].openFiles = SmallKeyMap()
        freeSlots.append(table.slot)
    }

    /// A new open file at `fd`. Returns the file that was at `fd` if the log never
    /// showed it closed (so the caller can report it and close it first).
    mutating func open(_ fd: Int32, in table: FDTableRef) -> OpenFileID {
        let file = nextFileID
        nextFileID += 1
        slots[table.slot].openFiles[SmallKeyMap<OpenFileID>.key(fd)] = file
        fileReferences[file] = 1
        return file
    }

    /// `fd` now refers to the same file as `source` (dup, F_DUPFD).
    mutating func duplicate(_ source: Int32, to fd: Int32, in table: FDTableRef) {
        guard let file = self.file(source, in: table) else { _ = open(fd, in: table); return }
        slots[table.slot].openFiles[SmallKeyMap<OpenFileID>.key(fd)] = file
        fileReferences[file, default: 0] += 1
    }

    /// Closes `fd`. Returns its file and whether that was the file's last reference
    /// (then the kernel drops every epoll registration of the file), or nil when the
    /// fd was not open as far as the log shows.
    mutating func close(_ fd: Int32, in table: FDTableRef) -> (file: OpenFileID, lastReference: Bool)? {
        let key = SmallKeyMap<OpenFileID>.key(fd)
        guard let file = slots[table.slot].openFiles[key] else { return nil }
        slots[table.slot].openFiles[key] = nil
        guard let slot = fileReferences.index(forKey: file) else { return (file, true) }
        let remaining = fileReferences.values[slot] - 1
        if remaining <= 0 { fileReferences.remove(at: slot) } else { fileReferences.values[slot] = remaining }
        return (file, remaining <= 0)
    }
}
