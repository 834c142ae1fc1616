/// Joins calls that strace split across lines because another thread printed in
/// between: `read(5, <unfinished ...>` … `<... read resumed>"x", 1) = 1`.
///
/// Each thread has at most one call in flight, so the pending start is kept per tid.
/// The joined call is handed on as if it had been printed whole on its first line.
struct CallStitcher {
    struct Pending {
        var name: [UInt8]
        var partialArgs: [UInt8]
        var line: UInt32
        var timeNs: UInt64?
    }

    private(set) var pending: [Int32: Pending] = [:]

    /// Remembers a call's start. Returns the start it replaces, if that thread
    /// already had one that never resumed (a malformed log).
    mutating func start(tid: Int32, name: LineBytes.SubSequence, partialArgs: LineBytes.SubSequence,
                        line: UInt32, timeNs: UInt64?) -> Pending? {
        pending.updateValue(Pending(name: Array(name), partialArgs: Array(partialArgs), line: line, timeNs: timeNs),
                            forKey: tid)
    }

    /// Takes the start of `tid`'s call if its name matches, and writes the whole call
    /// (`name(` + start + rest) into `buffer`.
    mutating func resume(tid: Int32, name: LineBytes.SubSequence, rest: LineBytes.SubSequence,
                         into buffer: inout [UInt8]) -> Pending? {
        guard let start = pending[tid], start.name.elementsEqual(name) else { return nil }
        pending[tid] = nil
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: start.name)
        buffer.append(ASCII.openParen)
        buffer.append(contentsOf: start.partialArgs)
        if !start.partialArgs.isEmpty, start.partialArgs.last == ASCII.comma { buffer.append(ASCII.space) }
        var restStart = rest.startIndex
        while restStart < rest.endIndex, rest[restStart] == ASCII.space { restStart += 1 }
        buffer.append(contentsOf: rest[restStart...])
        return start
    }

    /// Does `tid` have a call named `name` in flight?
    func hasPending(tid: Int32, name: LineBytes.SubSequence) -> Bool {
        pending[tid]?.name.elementsEqual(name) ?? false
    }

    mutating func rename(_ old: Int32, to tid: Int32) {
        if let start = pending.removeValue(forKey: old) { pending[tid] = start }
    }

    /// Forgets a thread's call in flight (the thread exited).
    mutating func drop(tid: Int32) -> Pending? { pending.removeValue(forKey: tid) }

    /// Calls still unfinished, by tid.
    var unfinished: [(tid: Int32, pending: Pending)] {
        pending.map { ($0.key, $0.value) }.sorted { $0.pending.line < $1.pending.line }
    }
}
