import PollTraceCore

/// Records unpacked from a row that the reader has not yet returned, smallest seq
/// first: the dispatches packed into batch rows (`BatchPacking`), which come later
/// in seq order interleaved with other rows (the records a handler wrote, other
/// pollers' batches), the second record of an fd pair (`FDRecordPairing`), a
/// thread's later syscalls (`SyscallPacking`), and (v6) a registration's
/// unregistration and close (`FDLifetimePacking`). The cursor merges this queue
/// with its table streams.
///
/// Two heaps. The first holds whole records, and only ever a batch's worth. The
/// second holds the packed ends, which wait as long as their registration lives
/// (thousands of records in a busy trace, so thousands of them at once), in a
/// small plain struct: sifting `TraceRecord`s through a heap that deep copied each
/// one with its value witness at every step, and took the analyzer's reading from
/// 2.5 to 4.1 s for 10M records (the analyze benchmark).
struct PendingRecords {
    /// A binary min-heap on `seq`.
    private var heap: [TraceRecord] = []
    /// A binary min-heap on `seq` of packed unregistrations and closes.
    private var ends: [PendingEnd] = []

    var isEmpty: Bool { heap.isEmpty && ends.isEmpty }

    /// The smallest pending seq, or nil.
    @inline(__always)
    var headSeq: UInt64? {
        switch (heap.first?.seq, ends.first?.seq) {
        case (let r?, let e?): min(r, e)
        case (let r?, nil): r
        case (nil, let e?): e
        case (nil, nil): nil
        }
    }

    mutating func push(_ record: TraceRecord) {
        heap.append(record)
        heap.withUnsafeMutableBufferPointer { Self.siftUp($0) }
    }

    /// A registration's packed end: its unregistration and the fd's close.
    mutating func push(_ unregistered: Unregistered, _ closed: Closed) {
        ends.append(PendingEnd(unregistered))
        ends.withUnsafeMutableBufferPointer { Self.siftUp($0) }
        ends.append(PendingEnd(closed))
        ends.withUnsafeMutableBufferPointer { Self.siftUp($0) }
    }

    mutating func pop() -> TraceRecord? {
        if let end = ends.first?.seq, end < heap.first?.seq ?? .max {
            return Self.pop(&ends).record
        }
        return heap.isEmpty ? nil : Self.pop(&heap)
    }

    private static func pop<Element>(_ heap: inout [Element]) -> Element where Element: HasSeq {
        // Moves only (removeLast, swapping through the buffer): no copies of a record.
        var top = heap.removeLast()
        if !heap.isEmpty {
            swap(&top, &heap[0])
            heap.withUnsafeMutableBufferPointer { buffer in
                var parent = 0
                while true {
                    let left = 2 * parent + 1
                    guard left < buffer.count else { break }
                    let right = left + 1
                    let smaller = right < buffer.count && buffer[right].seq < buffer[left].seq ? right : left
                    guard buffer[smaller].seq < buffer[parent].seq else { break }
                    buffer.swapAt(parent, smaller)
                    parent = smaller
                }
            }
        }
        return top
    }

    private static func siftUp<Element>(_ buffer: UnsafeMutableBufferPointer<Element>) where Element: HasSeq {
        var child = buffer.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard buffer[child].seq < buffer[parent].seq else { break }
            buffer.swapAt(child, parent)
            child = parent
        }
    }
}

protocol HasSeq {
    var seq: UInt64 { get }
}

extension TraceRecord: HasSeq {}

/// An unregistration or a close waiting in `PendingRecords`: every field plain, so
/// the heap moves it as bytes.
struct PendingEnd: HasSeq {
    let seq: UInt64
    let timeNs: UInt64
    let poller: PollerID
    let registrationID: RegistrationID
    let fd: Int32
    let isClose: Bool

    init(_ u: Unregistered) {
        seq = u.seq; timeNs = u.timeNs; poller = u.poller; registrationID = u.registrationID; fd = u.fd; isClose = false
    }

    init(_ c: Closed) {
        seq = c.seq; timeNs = c.timeNs; poller = c.poller; registrationID = 0; fd = c.fd; isClose = true
    }

    var record: TraceRecord {
        isClose ? .closed(Closed(seq: seq, timeNs: timeNs, poller: poller, fd: fd))
            : .unregistered(Unregistered(seq: seq, timeNs: timeNs, poller: poller, registrationID: registrationID, fd: fd))
    }
}
