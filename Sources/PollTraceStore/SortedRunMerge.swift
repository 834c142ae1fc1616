import PollTraceCore

/// Joins the pollers' buffers, each already in seq order, into one array in seq
/// order, by moving records instead of copying them.
///
/// Why not append each buffer to the first and sort: that copies every record (a
/// retain of each payload that holds a reference, such as a batch's events, and a
/// release when the buffer is emptied), which in polltraced's flood was about a
/// tenth of the writer thread (measured with perf). `removeLast` and `append` move
/// a record without touching its references, so the merge runs from the back: it
/// takes the larger of the runs' last records each time, and reverses the result
/// once at the end (swaps through the buffer, which move).
enum SortedRunMerge {
    /// Empties `runs` (each in seq order; their capacity is kept, for reuse) into
    /// `output`, which must be empty, in seq order.
    static func merge(_ runs: inout [[TraceRecord]], into output: inout [TraceRecord]) {
        precondition(output.isEmpty, "the merge writes into an empty array")
        output.reserveCapacity(runs.reduce(0) { $0 + $1.count })
        var lastSeqs = runs.map { $0.last?.seq }
        while true {
            // The pollers are few (8 buffers at most): a scan beats a heap here.
            var chosen = -1
            var largest: SequenceNumber = 0
            for (index, seq) in lastSeqs.enumerated() {
                if let seq, chosen < 0 || seq > largest {
                    chosen = index
                    largest = seq
                }
            }
            guard chosen >= 0 else { break }
            output.append(runs[chosen].removeLast())
            lastSeqs[chosen] = runs[chosen].last?.seq
        }
        // Through the buffer: its `swapAt` moves, where `Array`'s (the generic
        // `MutableCollection` one) copies, a retain and a release per record.
        output.withUnsafeMutableBufferPointer { $0.reverse() }
    }
}
