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
    // Every field below is guarded by `condition`'s lock.
    private let condition = NSCondition()
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

    /// Starts reading `path` on a new thread. The reader is opened on that thread
    /// and used only there (an SQLite connection belongs to one thread at a time).
    init(path: String, chunkSize: Int = 4096, capacity: Int = 8) {
        self.chunkSize = chunkSize
        self.capacity = capacity
        let thread = Thread { [self] in produce(path: path) }
        thread.name = "polltrace-reader"
        thread.start()
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
        condition.lock()
        while full.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled {
            condition.unlock()
            return nil
        }
        full.append(chunk)
        // Wakes the replay thread only when it may be waiting for this chunk.
        if full.count - head == 1 { condition.broadcast() }
        let empty = spare.popLast()
        condition.unlock()
        return empty ?? newChunk()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    /// Stops the reader thread (it exits at its next chunk).
    func cancel() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        condition.unlock()
    }

    /// The next chunk of records in sequence order; nil at the end. Rethrows the
    /// reader's error. Hand the chunk back with `recycle` once it is replayed.
    func nextChunk() throws -> [TraceRecord]? {
        condition.lock()
        while head == full.count && !finished { condition.wait() }
        if head == full.count {
            let error = failure
            condition.unlock()
            if let error { throw error }
            return nil
        }
        let chunk = full[head]
        full[head] = []
        head += 1
        if head == full.count { full.removeAll(keepingCapacity: true); head = 0 }
        // Wakes the reader only when it may be waiting for room.
        if full.count - head == capacity - 1 { condition.broadcast() }
        condition.unlock()
        return chunk
    }

    /// Takes back a replayed chunk: its records are released here, on the replay
    /// thread, and its buffer goes back to the reader.
    func recycle(_ chunk: inout [TraceRecord]) {
        chunk.removeAll(keepingCapacity: true)
        condition.lock()
        if spare.count < capacity { spare.append(chunk) }
        condition.unlock()
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
