import Foundation
import PollTraceCore
import PollTraceStore

/// Reads a trace's records on a second thread, in chunks, while the caller replays
/// the previous chunks: decoding SQLite rows and replaying them then overlap instead
/// of adding up. The order of records is unchanged, so results stay deterministic.
/// At most `capacity` chunks wait at once, so memory stays bounded.
final class RecordPipeline: @unchecked Sendable {
    // Every field below is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var chunks: [[TraceRecord]] = []
    private var head = 0
    private var finished = false
    private var failure: (any Error)?
    private var cancelled = false

    private let capacity: Int
    private let chunkSize: Int
    private var current: [TraceRecord] = []
    private var position = 0

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
            var chunk: [TraceRecord] = []
            chunk.reserveCapacity(chunkSize)
            while let record = try cursor.next() {
                chunk.append(record)
                if chunk.count == chunkSize {
                    guard put(chunk) else { return }
                    chunk = []
                    chunk.reserveCapacity(chunkSize)
                }
            }
            if !chunk.isEmpty { _ = put(chunk) }
            finish(nil)
        } catch {
            finish(error)
        }
    }

    /// Waits while the queue is full. Returns false when the consumer went away.
    private func put(_ chunk: [TraceRecord]) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while chunks.count - head >= capacity && !cancelled { condition.wait() }
        if cancelled { return false }
        chunks.append(chunk)
        condition.broadcast()
        return true
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

    /// The next record in sequence order; nil at the end. Rethrows the reader's error.
    func next() throws -> TraceRecord? {
        if position < current.count {
            defer { position += 1 }
            return current[position]
        }
        condition.lock()
        while head == chunks.count && !finished { condition.wait() }
        if head == chunks.count {
            let error = failure
            condition.unlock()
            if let error { throw error }
            return nil
        }
        current = chunks[head]
        chunks[head] = []
        head += 1
        if head > 64 { chunks.removeFirst(head); head = 0 }
        condition.broadcast()
        condition.unlock()
        position = 1
        return current[0]
    }
}
