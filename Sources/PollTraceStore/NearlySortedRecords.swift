import PollTraceCore

/// Puts one poller's buffered records into seq order before the writer joins the
/// pollers' buffers.
///
/// A poller's records arrive almost in seq order: a dispatch takes its number
/// before its handler runs and is appended after the records the handler made, so
/// it sits a few places late. Sorting the joined chunk saw each such dispatch as a
/// break in a run, and spent a merge sort on the whole chunk (about a twentieth of
/// the writer thread in polltraced's flood, measured in the store benchmark). Moving
/// each late record back into place is one pass plus a few swaps; the joined chunk
/// is then one sorted run per poller, which the writer's sort merges in one pass.
enum NearlySortedRecords {
    /// Sorts `records` by seq in place. Swaps elements (no copies, so no retains of
    /// their payloads); past a budget of swaps, proportional to the count, the input
    /// is not nearly sorted after all and the standard sort takes over.
    static func sort(_ records: inout [TraceRecord]) {
        let count = records.count
        guard count > 1 else { return }
        var budget = 4 * count + 64
        let finished = records.withUnsafeMutableBufferPointer { buffer -> Bool in
            for i in 1..<count {
                let seq = buffer[i].seq
                var j = i
                while j > 0 && buffer[j - 1].seq > seq {
                    buffer.swapAt(j, j - 1)
                    j -= 1
                    budget -= 1
                }
                if budget < 0 { return false }
            }
            return true
        }
        if !finished { records.sort { $0.seq < $1.seq } }
    }
}
