import Foundation
import PollTraceCore
import PollTraceStore

/// Reads a trace's records on a second thread, in chunks, while the caller replays
/// the previous chunks: decoding SQLite rows and replaying them then overlap instead
/// of adding up. The order of records is unchanged, so results stay deterministic.
/// At most `capacity` chunks wait at once, so memory stays bounded.
///
/// The hand-over is a chunk at a time, both ways: the replay thread takes a full
/// chunk, replays it where it lies, empties it (releasing the records' payloads on
/// its own thread, which has time to spare: decoding is the slower side) and gives
/// the empty buffer back for the reader to fill again. One lock round trip moves
/// thousands of records, and no chunk buffer is allocated after the first few.
final class RecordPipeline: @unchecked Sendable {
    // Every field below is guarded by `lock`.
    private let lock = ConditionLock()
    /// Broadcast when a chunk, an empty buffer, the end or a cancel arrives.
    private let changed: ConditionLock.Condition
    /// Full chunks in order; `head` is the next to hand out.
    private var full: [[TraceRecord]] = []
    private var head = 0
    /// Emptied chunk buffers, for the reader to refill.
    private var spare: [[TraceRecord]] = []
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false

    private let capacity: Int
    private let chunkSize: Int
    /// A large v7 trace is read in ranges on the store's own reading threads, and
    /// each range is a chunk: no thread here, and no copy of the records into
    /// chunks of this pipeline's. Used by the replay thread only.
    private var ranges: TraceRecordRanges?

    /// Starts reading `path` on a new thread. The reader is opened on that thread
    /// and used only there (an SQLite connection belongs to one thread at a time).
    /// `largeFrom` and `rangeSize` (for tests) say when a v7 trace is read in ranges.
    init(path: String, chunkSize: Int = 4096, capacity: Int = 8,
         largeFrom minimumRecords: Int64 = TraceReader.parallelMinimumRecords, rangeSize: UInt64 = TraceReader.parallelRangeSize) {
        self.chunkSize = chunkSize
        self.capacity = capacity
        changed = lock.makeCondition()
        // A file that cannot be read this way is read below, which names what is wrong.
        if let ranges = try? TraceReader(path: path).recordRanges(minimumRecords: minimumRecords, rangeSize: rangeSize) {
            self.ranges = ranges
            return
        }
        do {
            let thread = try NamedThread(name: "polltrace-reader") { [self] in produce(path: path) }
            thread.detach()
        } catch {
            finish(error)
        }
    }

    deinit { cancel() }

    private func produce(path: String) {
        do {
            let reader = try TraceReader(path: path)
            var cursor = try reader.records()
            var chunk = newChunk()
            while let record = try cursor.next() {
                chunk.append(record)
                if chunk.count == chunkSize {
                    guard let empty = exchange(chunk) else { return }
                    chunk = empty
                }
            }
            if !chunk.isEmpty { _ = exchange(chunk) }
            finish(nil)
        } catch {
            finish(error)
        }
    }

    private func newChunk() -> [TraceRecord] {
        var chunk: [TraceRecord] = []
        chunk.reserveCapacity(chunkSize)
        return chunk
    }

    /// Queues a full chunk (waiting while the queue is full) and returns an empty
    /// buffer to fill next, in one lock round trip. nil when the consumer went away.
    private func exchange(_ chunk: [TraceRecord]) -> [TraceRecord]? {
        lock.lock()
        while full.count - head >= capacity && !cancelled { changed.wait() }
        if cancelled {
            lock.unlock()
            return nil
        }
        full.append(chunk)
        // Wakes the replay thread only when it may be waiting for this chunk.
        if full.count - head == 1 { changed.broadcast() }
        let empty = spare.popLast()
        lock.unlock()
        return empty ?? newChunk()
    }

    private func finish(_ error: (any Error)?) {
        lock.lock()
        finished = true
        failure = error
        changed.broadcast()
        lock.unlock()
    }

    /// Stops the reader thread (it exits at its next chunk), or the reading threads.
    /// A `nextChunk` after this returns nil rather than wait for a reader that is gone.
    func cancel() {
        ranges = nil
        lock.lock()
        cancelled = true
        finished = true
        changed.broadcast()
        lock.unlock()
    }

    /// The next chunk of records in sequence order; nil at the end. Rethrows the
    /// reader's error. Hand the chunk back with `recycle` once it is replayed.
    func nextChunk() throws -> [TraceRecord]? {
        if let ranges {
            // An empty range (seqs of records lost in drop mode) is not the end.
            while var range = try ranges.next() {
                if !range.isEmpty { return range }
                ranges.recycle(&range)
            }
            return nil
        }
        lock.lock()
        while head == full.count && !finished { changed.wait() }
        if head == full.count {
            let error = failure
            lock.unlock()
            if let error { throw error }
            return nil
        }
        let chunk = full[head]
        full[head] = []
        head += 1
        if head == full.count { full.removeAll(keepingCapacity: true); head = 0 }
        // Wakes the reader only when it may be waiting for room.
        if full.count - head == capacity - 1 { changed.broadcast() }
        lock.unlock()
        return chunk
    }

    /// Takes back a replayed chunk: its records are released here, on the replay
    /// thread, and its buffer goes back to the reader.
    func recycle(_ chunk: inout [TraceRecord]) {
        if let ranges { return ranges.recycle(&chunk) }
        chunk.removeAll(keepingCapacity: true)
        lock.lock()
        if spare.count < capacity { spare.append(chunk) }
        lock.unlock()
        chunk = []
    }

    /// Every chunk, in order, handed to `body` and then recycled.
    func forEachChunk(_ body: ([TraceRecord]) throws -> Void) throws {
        while var chunk = try nextChunk() {
            try body(chunk)
            recycle(&chunk)
        }
    }
}
