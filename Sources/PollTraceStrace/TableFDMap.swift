/// A map keyed by (fd table, fd), for state the hazard analysis looks up on every
/// call of an imported log: per fd table, an array indexed by fd number (the
/// kernel hands out the lowest free number, so the numbers stay close to the count
/// of open fds), and the table of the previous lookup found without hashing, since
/// a log is mostly one process's calls in a row. A dictionary keyed by the pair
/// hashed once per call. Numbers no kernel would hand out under that rule (negative,
/// or past `arrayLimit`) go to a dictionary, so a damaged log cannot make an array huge.
///
/// It repeats `PollTraceCore.FDMap`'s layout on purpose. Built on `FDMap` (made
/// `package` and `@inlinable`), the runtime looks up the generic metadata of
/// `FDMap<…>` on every call from this module, on the analysis's hottest path; a
/// type of this module does not need that.
struct TableFDMap<Value> {
    private struct Key: Hashable { var table: UInt32; var fd: Int32 }
    static var arrayLimit: Int32 { 1 << 16 }

    private var tables: [[Value?]] = []
    private var slotOfTable: [UInt32: Int] = [:]
    private var other: [Key: Value] = [:]
    private var lastTable: UInt32 = 0
    private var lastSlot = -1
    /// Entries in every table together.
    private(set) var count = 0

    @inline(__always)
    private mutating func slot(_ table: UInt32) -> Int {
        if lastSlot >= 0 && table == lastTable { return lastSlot }
        let found: Int
        if let known = slotOfTable[table] {
            found = known
        } else {
            tables.append([])
            found = tables.count - 1
            slotOfTable[table] = found
        }
        lastTable = table
        lastSlot = found
        return found
    }

    @inline(__always)
    private static func inArray(_ fd: Int32) -> Bool { fd >= 0 && fd < arrayLimit }

    /// Changes the value at (table, fd) in place, inserting `initial` first if there
    /// is none.
    mutating func modify(_ table: UInt32, _ fd: Int32, inserting initial: Value, _ body: (inout Value) -> Void) {
        guard Self.inArray(fd) else {
            let key = Key(table: table, fd: fd)
            if other[key] == nil { other[key] = initial; count += 1 }
            body(&other[key]!)
            return
        }
        let slot = slot(table)
        let index = Int(fd)
        if index >= tables[slot].count {
            let size = min(Int(Self.arrayLimit), max(index + 1, tables[slot].count * 2, 64))
            tables[slot].append(contentsOf: repeatElement(nil, count: size - tables[slot].count))
        }
        if tables[slot][index] == nil {
            tables[slot][index] = initial
            count += 1
        }
        body(&tables[slot][index]!)
    }

    /// Whether there is a value at (table, fd), found without the uniqueness checks
    /// (and copies) that changing it in place takes: most calls of a log are on an fd
    /// the analysis is not watching.
    @inline(__always)
    func contains(_ table: UInt32, _ fd: Int32) -> Bool {
        guard count > 0 else { return false }
        guard Self.inArray(fd) else { return other[Key(table: table, fd: fd)] != nil }
        let slot: Int
        if lastSlot >= 0 && table == lastTable {
            slot = lastSlot
        } else if let known = slotOfTable[table] {
            slot = known
        } else {
            return false
        }
        let index = Int(fd)
        return tables.withUnsafeBufferPointer { all in
            all[slot].withUnsafeBufferPointer { index < $0.count && $0[index] != nil }
        }
    }

    /// Changes the value at (table, fd) in place if there is one; removes it when
    /// `body` returns true.
    @inline(__always)
    mutating func modifyOrRemove(_ table: UInt32, _ fd: Int32, _ body: (inout Value) -> Bool) {
        guard count > 0 else { return }
        guard Self.inArray(fd) else {
            let key = Key(table: table, fd: fd)
            guard other[key] != nil else { return }
            if body(&other[key]!) { other[key] = nil; count -= 1 }
            return
        }
        let slot = slot(table)
        let index = Int(fd)
        guard index < tables[slot].count, tables[slot][index] != nil else { return }
        if body(&tables[slot][index]!) {
            tables[slot][index] = nil
            count -= 1
        }
    }
}
