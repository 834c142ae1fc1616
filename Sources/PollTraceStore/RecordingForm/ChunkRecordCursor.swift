import PollTraceCore

/// Streams the records of a recording form written in chunks (`record_chunks`), in
/// seq order.
///
/// A chunk is one commit, sorted, but commits can interleave: a poller takes its
/// seq before it appends, so a record can reach the writer after records with
/// higher seqs were committed, and land in a later chunk. Chunks are therefore
/// merged, like the sorted runs they are: read in order of their first seq, a
/// chunk is opened once its first seq is the lowest one not yet returned, and the
/// next record is the lowest head among the open chunks (usually one).
final class ChunkRecordCursor {
    private let path: String
    private let start: UInt64
    private let chunks: SQLiteStatement
    private let strings: InternedStrings

    private struct OpenChunk {
        var decoder: RecordChunkDecoder
        var head: TraceRecord
        let row: ChunkRow
    }
    private struct ChunkRow {
        let firstSeq: SequenceNumber
        let lastSeq: Int64
        let recordCount: Int64
        let bytes: [UInt8]
    }
    private var open: [OpenChunk] = []
    /// The next chunk row, stepped onto but not yet opened.
    private var pending: ChunkRow?
    private var exhausted = false
    /// The last record returned: seqs must rise across chunks too.
    private var lastReturned: SequenceNumber?

    init(connection: SQLiteConnection, path: String, start: UInt64) throws {
        self.path = path
        self.start = start
        chunks = try connection.makeStatement(sql: "SELECT first_seq, last_seq, record_count, bytes FROM record_chunks ORDER BY first_seq")
        strings = try InternedStrings(connection: connection)
    }

    func next() throws -> TraceRecord? {
        do {
            while true {
                try fetchPending()
                let lowest = open.indices.min { open[$0].head.seq < open[$1].head.seq }
                if let chunk = pending, lowest.map({ chunk.firstSeq < open[$0].head.seq }) ?? true {
                    pending = nil
                    try openChunk(chunk)
                    continue
                }
                guard let i = lowest else { return nil }
                let record = open[i].head
                if let lastReturned, record.seq <= lastReturned {
                    throw TraceStoreError.corrupted(path: path, detail: "record \(record.seq) is in two record chunks, or after record \(lastReturned)")
                }
                lastReturned = record.seq
                if let following = try open[i].decoder.next(string: string) {
                    guard following.seq > record.seq else {
                        throw TraceStoreError.corrupted(path: path, detail: "record \(following.seq) follows \(record.seq) in one chunk")
                    }
                    open[i].head = following
                } else {
                    try checkEnd(open[i].decoder, last: record.seq, row: open[i].row)
                    open.remove(at: i)
                }
                return record
            }
        } catch let error as SQLiteError {
            throw TraceReader.map(error, path: path)
        } catch let error as RecordChunkDecoder.Malformed {
            throw TraceStoreError.corrupted(path: path, detail: "record chunk: \(error.detail)")
        }
    }

    private func fetchPending() throws {
        guard pending == nil, !exhausted else { return }
        guard try chunks.step() else {
            exhausted = true
            return
        }
        let first = chunks.int64(0)
        guard first >= 0 else { throw TraceStoreError.corrupted(path: path, detail: "a record chunk starts at seq \(first)") }
        pending = ChunkRow(firstSeq: SequenceNumber(first), lastSeq: chunks.int64(1), recordCount: chunks.int64(2), bytes: chunks.blob(3))
    }

    private func openChunk(_ chunk: ChunkRow) throws {
        var decoder = RecordChunkDecoder(bytes: chunk.bytes, firstSeq: chunk.firstSeq, start: start)
        guard let head = try decoder.next(string: string) else {
            throw TraceStoreError.corrupted(path: path, detail: "the record chunk at seq \(chunk.firstSeq) is empty")
        }
        guard head.seq == chunk.firstSeq else {
            throw TraceStoreError.corrupted(path: path, detail: "the record chunk at seq \(chunk.firstSeq) starts with record \(head.seq)")
        }
        open.append(OpenChunk(decoder: decoder, head: head, row: chunk))
    }

    /// The row's count and last seq must be what its bytes held: a changed key or
    /// count is damage, not a shift of every record.
    private func checkEnd(_ decoder: RecordChunkDecoder, last: SequenceNumber, row: ChunkRow) throws {
        guard decoder.decoded == row.recordCount else {
            throw TraceStoreError.corrupted(path: path, detail: "the record chunk at seq \(row.firstSeq) holds \(decoder.decoded) records, not \(row.recordCount)")
        }
        guard Int64(bitPattern: last) == row.lastSeq else {
            throw TraceStoreError.corrupted(path: path, detail: "the record chunk at seq \(row.firstSeq) ends at record \(last), not \(row.lastSeq)")
        }
    }

    private func string(_ id: Int64) throws -> String {
        guard let text = try strings.text(id) else {
            throw TraceStoreError.corrupted(path: path, detail: "string \(id) is missing from the strings table")
        }
        return text
    }
}
