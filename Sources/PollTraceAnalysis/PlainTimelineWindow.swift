import PollTraceCore
import PollTraceStore

/// The timeline of a window of a native v7 trace, read with range queries instead of
/// a replay from the first record: the window's records from each table by seq, the
/// batch each poller was in when the window opened from `batches`, and what replay
/// made of each dispatch from `dispatches` and `registrations`
/// (`PlainDispatchAnnotator`). Draws the same timeline as the replay path.
enum PlainTimelineWindow {
    static func extract(reader: TraceReader, window: TraceWindow, maxEvents: Int) throws -> Timeline {
        do {
            return try build(reader: reader, window: window, maxEvents: maxEvents)
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: reader.path, detail: error.description)
        }
    }

    private static func build(reader: TraceReader, window: TraceWindow, maxEvents: Int) throws -> Timeline {
        let db = reader.connection
        let base = reader.metadata.startMonotonicNs
        let range = try seqRange(of: window, db: db)
        var builder = TimelineBuilder(metadata: reader.metadata)
        let annotator = try PlainDispatchAnnotator(reader: reader)
        // The batch each poller was in when the window opened: its dispatches in the
        // window are drawn inside it.
        var openBatches: [PollerID: TraceRecord] = [:]
        if range.lowerBound > 1 {
            let last = try db.makeStatement(sql: "SELECT seq FROM batches WHERE poller = ?1 AND seq < ?2 ORDER BY seq DESC LIMIT 1")
            for poller in Set(reader.metadata.pollers.map(\.poller)) {
                last.reset()
                last.bind(Int64(poller), at: 1)
                last.bind(Int64(clamping: range.lowerBound), at: 2)
                guard try last.step() else { continue }
                let seq = SequenceNumber(bitPattern: last.int64(0))
                var one = try reader.records(in: seq...seq)
                if let batch = try one.next() { openBatches[poller] = batch }
            }
        }
        var records = try reader.records(in: range)
        while let record = try records.next() {
            switch window.place(record, baseNs: base) {
            case .before:
                if case .batch(let b) = record { openBatches[b.poller] = record }
                continue
            case .after:
                return builder.finish(window: window)
            case .inside:
                break
            }
            if let batch = openBatches.removeValue(forKey: record.poller), record.kind != .batch {
                builder.add(batch, annotation: nil, origin: nil)
            }
            builder.add(record, annotation: try annotator.annotate(record), origin: nil)
            if builder.timeline.eventCount > maxEvents {
                throw TimelineExtraction.Failure.tooLarge(limit: maxEvents, window: window.description, reachedSeq: record.seq)
            }
        }
        return builder.finish(window: window)
    }

    /// The seqs that can hold the window's records. A time window maps through the
    /// time indexes of `batches` and `dispatches`: from just after the last one made
    /// before its start to just before the first one made after its end; the records
    /// in between are then placed by their own time.
    static func seqRange(of window: TraceWindow, db: SQLiteConnection) throws -> ClosedRange<SequenceNumber> {
        switch window {
        case .whole: return 1...SequenceNumber(Int64.max)
        case .seq(let r): return max(r.lowerBound, 1)...max(min(r.upperBound, SequenceNumber(Int64.max)), 1)
        case .time(let r):
            let lo = Int64(clamping: r.lowerBound), hi = Int64(clamping: r.upperBound)
            var first: SequenceNumber = 1
            var last = SequenceNumber(Int64.max)
            for table in ["batches", "dispatches"] {
                let before = try db.makeStatement(sql: "SELECT seq FROM \(table) WHERE rel_ns < ?1 ORDER BY rel_ns DESC LIMIT 1")
                before.bind(lo, at: 1)
                if try before.step() { first = max(first, SequenceNumber(bitPattern: before.int64(0)) + 1) }
                let after = try db.makeStatement(sql: "SELECT seq FROM \(table) WHERE rel_ns > ?1 ORDER BY rel_ns LIMIT 1")
                after.bind(hi, at: 1)
                if try after.step() { last = min(last, SequenceNumber(bitPattern: after.int64(0))) }
            }
            return first...max(first, last)
        }
    }

    /// The seq of finding `index` (from 1, in the order `polltrace analyze` lists
    /// them), from `findings`.
    static func seq(ofFinding index: Int, reader: TraceReader) throws -> SequenceNumber {
        do {
            let s = try reader.connection.makeStatement(sql: "SELECT seq FROM findings ORDER BY id LIMIT 1 OFFSET ?1")
            s.bind(Int64(index - 1), at: 1)
            if try s.step() { return SequenceNumber(bitPattern: s.int64(0)) }
            let found = try reader.connection.scalarInt(sql: "SELECT count(*) FROM findings") ?? 0
            throw TimelineExtraction.Failure.noSuchFinding(index: index, found: Int(found))
        } catch let error as SQLiteError {
            throw TraceStoreError.readFailed(path: reader.path, detail: error.description)
        }
    }
}
