import PollTraceCore

/// The records of one commit as bytes: `TraceFile` stores each commit's records as
/// one `record_chunks` row, and `ChunkRecordCursor` reads them back.
///
/// Why bytes and not a SQLite row per record: on a loaded server the writer thread
/// shares the loop's cores, and a row costs it about 0.3 us (binding each column,
/// the VDBE, the B-tree), while appending a record's few varints costs tens of
/// nanoseconds; SQLite then stores one blob per commit. The recording form is
/// internal (readers get the v7 tables), so only `ChunkRecordCursor` reads this.
///
/// A record is its kind (one byte); its seq as the distance from the record before
/// (from the chunk's first seq for the first record); its time as the signed
/// distance from the record before (from the trace's start for the first); then
/// its fields in the order `RecordChunkEncoder.append` writes them. Every number is
/// a LEB128 varint, signed ones zigzag-encoded; labels and syscall names are ids in
/// the `strings` table.
final class RecordChunkEncoder {
    /// The chunk's bytes so far: `count` of `capacity`, written through a pointer
    /// because a `[UInt8]` append checks uniqueness and capacity at every byte, which
    /// made encoding cost more than the SQLite insert it replaced.
    private var storage: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private(set) var byteCount = 0
    private(set) var count = 0
    private(set) var firstSeq: SequenceNumber = 0
    private(set) var lastSeq: SequenceNumber = 0
    private var previousTime: UInt64 = 0
    private let start: UInt64

    /// The most bytes a record other than a batch takes (a gap: a kind byte and seven
    /// 10-byte varints), and what each of a batch's events adds.
    private static let maxRecordBytes = 80
    private static let maxEventBytes = 25

    init(start: UInt64) {
        self.start = start
        capacity = 1 << 16
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    /// The chunk's bytes, valid until the next change.
    var bytes: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: storage, count: byteCount) }

    /// Empties the chunk, keeping its memory.
    func reset() {
        byteCount = 0
        count = 0
    }

    /// A record whose seq is not above the chunk's last one: two records with one
    /// seq, which no `SequenceCounter` gives, would read back as damage.
    struct SeqNotIncreasing: Error, CustomStringConvertible {
        let seq: SequenceNumber
        let after: SequenceNumber
        var description: String { "record \(seq) comes after record \(after) in one commit: every record needs a seq of its own, in order" }
    }

    /// Appends `record`, whose seq must be above the chunk's last record's.
    func append(_ record: TraceRecord, stringID: (String) throws -> Int64) throws {
        let seq = record.seq
        if count == 0 {
            firstSeq = seq
            lastSeq = seq
            previousTime = start
        } else if seq <= lastSeq {
            throw SeqNotIncreasing(seq: seq, after: lastSeq)
        }
        var events = 0
        if case .batch(let b) = record { events = b.events.count }
        let needed = byteCount + Self.maxRecordBytes + events * Self.maxEventBytes
        if needed > capacity { grow(to: needed) }
        var p = storage + byteCount
        p.pointee = record.kind.rawValue
        p += 1
        Self.unsigned(seq &- lastSeq, &p)
        lastSeq = seq
        let time = record.timeNs
        Self.signed(Int64(bitPattern: time &- previousTime), &p)
        previousTime = time
        switch record {
        case .fdOpened(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.signed(Int64(r.fd), &p); Self.byte(r.origin.rawValue, &p)
        case .registered(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.unsigned(UInt64(r.registrationID), &p); Self.signed(Int64(r.fd), &p)
            Self.unsigned(UInt64(r.interest.rawValue), &p); Self.unsigned(r.data, &p)
            Self.unsigned(UInt64(bitPattern: try stringID(r.handlerLabel)), &p)
        case .modified(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.unsigned(UInt64(r.registrationID), &p); Self.signed(Int64(r.fd), &p)
            Self.unsigned(UInt64(r.interest.rawValue), &p)
        case .unregistered(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.unsigned(UInt64(r.registrationID), &p); Self.signed(Int64(r.fd), &p)
        case .closed(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.signed(Int64(r.fd), &p)
        case .batch(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.unsigned(r.batchNumber, &p); Self.signed(Int64(r.timeoutMs), &p)
            Self.unsigned(r.waitedNs, &p); Self.unsigned(UInt64(r.events.count), &p)
            for event in r.events {
                Self.signed(Int64(event.fd), &p); Self.unsigned(UInt64(event.mask.rawValue), &p); Self.unsigned(event.data, &p)
            }
        case .dispatch(let r):
            Self.unsigned(UInt64(r.poller), &p)
            // source in bits 0-1, suppression (0 for none) in bits 2-4, threw in bit 5.
            Self.byte(r.source.rawValue | (r.suppression?.rawValue ?? 0) << 2 | (r.handlerThrew ? 1 << 5 : 0), &p)
            Self.signed(Int64(bitPattern: seq &- r.batchSeq), &p)  // a few records back, or seq itself when 0
            Self.unsigned(UInt64(r.eventIndex), &p); Self.unsigned(UInt64(r.ranRegistrationID), &p)
            Self.unsigned(UInt64(r.deliveredMask.rawValue), &p); Self.unsigned(r.durationNs, &p)
        case .gap(let r):
            Self.unsigned(r.firstLost, &p); Self.unsigned(r.lastLost, &p); Self.unsigned(r.lostCount, &p)
            Self.unsigned(r.fromTimeNs, &p); Self.unsigned(r.toTimeNs, &p)
        case .callFailed(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.byte(r.call.rawValue, &p); Self.signed(Int64(r.fd), &p)
            Self.signed(Int64(r.errno), &p)
        case .syscall(let r):
            Self.unsigned(UInt64(r.poller), &p); Self.signed(Int64(r.tid), &p); Self.signed(Int64(r.fd), &p)
            Self.unsigned(UInt64(bitPattern: try stringID(r.name)), &p)
            Self.signed(r.result, &p); Self.signed(Int64(r.errno), &p); Self.byte(r.isDataCall ? 1 : 0, &p)
            Self.unsigned(UInt64(r.sourceLine), &p)
        }
        byteCount = p - storage
        count += 1
    }

    private func grow(to needed: Int) {
        let grown = Swift.max(needed, capacity * 2)
        let replacement = UnsafeMutablePointer<UInt8>.allocate(capacity: grown)
        replacement.update(from: storage, count: byteCount)
        storage.deallocate()
        storage = replacement
        capacity = grown
    }

    @inline(__always)
    private static func byte(_ value: UInt8, _ p: inout UnsafeMutablePointer<UInt8>) {
        p.pointee = value
        p += 1
    }

    @inline(__always)
    private static func unsigned(_ value: UInt64, _ p: inout UnsafeMutablePointer<UInt8>) {
        var v = value
        while v >= 0x80 {
            p.pointee = UInt8(truncatingIfNeeded: v) | 0x80
            p += 1
            v >>= 7
        }
        p.pointee = UInt8(v)
        p += 1
    }

    @inline(__always)
    private static func signed(_ value: Int64, _ p: inout UnsafeMutablePointer<UInt8>) {
        unsigned(UInt64(bitPattern: (value << 1) ^ (value >> 63)), &p)
    }
}

/// Reads back the records of one chunk that `RecordChunkEncoder` wrote, checking
/// every value against what a writer can produce.
struct RecordChunkDecoder {
    struct Malformed: Error {
        let detail: String
    }

    private let bytes: [UInt8]
    private var offset = 0
    private var lastSeq: SequenceNumber
    private var previousTime: UInt64
    private(set) var decoded = 0

    init(bytes: [UInt8], firstSeq: SequenceNumber, start: UInt64) {
        self.bytes = bytes
        lastSeq = firstSeq
        previousTime = start
    }

    var isAtEnd: Bool { offset == bytes.count }

    /// The next record, or nil at the end of the chunk.
    mutating func next(string: (Int64) throws -> String) throws -> TraceRecord? {
        guard offset < bytes.count else { return nil }
        let kindByte = bytes[offset]
        offset += 1
        guard let kind = RecordKind(rawValue: kindByte) else { throw Malformed(detail: "unknown record kind \(kindByte)") }
        let seq = lastSeq &+ (try unsigned())
        guard seq >= lastSeq else { throw Malformed(detail: "a record's seq goes back past \(lastSeq)") }
        lastSeq = seq
        let time = previousTime &+ UInt64(bitPattern: try signed())
        previousTime = time
        decoded += 1
        switch kind {
        case .fdOpened:
            let poller = try poller(), fd = try int32()
            let code = try byte()
            guard let origin = FDOrigin(rawValue: code) else { throw Malformed(detail: "record \(seq): unknown fd origin \(code)") }
            return .fdOpened(FDOpened(seq: seq, timeNs: time, poller: poller, fd: fd, origin: origin))
        case .registered:
            let poller = try poller(), id = try registration(), fd = try int32(), interest = try mask(), data = try unsigned()
            let label = try string(Int64(bitPattern: try unsigned()))
            return .registered(Registered(seq: seq, timeNs: time, poller: poller, registrationID: id, fd: fd,
                                          interest: interest, data: data, handlerLabel: label))
        case .modified:
            let poller = try poller(), id = try registration(), fd = try int32(), interest = try mask()
            return .modified(Modified(seq: seq, timeNs: time, poller: poller, registrationID: id, fd: fd, interest: interest))
        case .unregistered:
            let poller = try poller(), id = try registration(), fd = try int32()
            return .unregistered(Unregistered(seq: seq, timeNs: time, poller: poller, registrationID: id, fd: fd))
        case .closed:
            let poller = try poller(), fd = try int32()
            return .closed(Closed(seq: seq, timeNs: time, poller: poller, fd: fd))
        case .batch:
            let poller = try poller(), number = try unsigned(), timeout = try int32(), waited = try unsigned()
            let count = try unsigned()
            // Each event takes at least three bytes: a count beyond that is damage, not a reason to allocate.
            guard count <= UInt64(bytes.count - offset) / 3 else { throw Malformed(detail: "batch \(seq): \(count) events in a chunk too short for them") }
            var events: [HarvestedEvent] = []
            events.reserveCapacity(Int(count))
            for _ in 0..<count {
                let fd = try int32(), eventMask = try mask(), data = try unsigned()
                events.append(HarvestedEvent(fd: fd, mask: eventMask, data: data))
            }
            return .batch(BatchHarvested(seq: seq, timeNs: time, poller: poller, batchNumber: number, timeoutMs: timeout,
                                         waitedNs: waited, events: events))
        case .dispatch:
            let poller = try poller()
            let flags = try byte()
            guard let source = DispatchSource(rawValue: flags & 3), flags >> 6 == 0 else {
                throw Malformed(detail: "dispatch \(seq): bad flags \(flags)")
            }
            let suppressionCode = (flags >> 2) & 7
            let suppression = SuppressionReason(rawValue: suppressionCode)
            guard suppressionCode == 0 || suppression != nil else { throw Malformed(detail: "dispatch \(seq): unknown suppression \(suppressionCode)") }
            let batchSeq = seq &- UInt64(bitPattern: try signed())
            let index = try uint32(), ran = try registration(), delivered = try mask(), duration = try unsigned()
            return .dispatch(Dispatch(seq: seq, timeNs: time, poller: poller, source: source, batchSeq: batchSeq, eventIndex: index,
                                      ranRegistrationID: ran, deliveredMask: delivered, suppression: suppression,
                                      handlerThrew: flags & (1 << 5) != 0, durationNs: duration))
        case .gap:
            let first = try unsigned(), last = try unsigned(), lost = try unsigned(), from = try unsigned(), to = try unsigned()
            guard first <= last else { throw Malformed(detail: "gap \(seq): its first lost seq \(first) is after its last \(last)") }
            return .gap(Gap(seq: seq, timeNs: time, firstLost: first, lastLost: last, lostCount: lost, fromTimeNs: from, toTimeNs: to))
        case .callFailed:
            let poller = try poller()
            let code = try byte()
            guard let call = FDCall(rawValue: code) else { throw Malformed(detail: "record \(seq): unknown failed call \(code)") }
            let fd = try int32(), errno = try int32()
            return .callFailed(CallFailed(seq: seq, timeNs: time, poller: poller, call: call, fd: fd, errno: errno))
        case .syscall:
            let poller = try poller(), tid = try int32(), fd = try int32()
            let name = try string(Int64(bitPattern: try unsigned()))
            let result = try signed(), errno = try int32()
            let isData = try byte()
            guard isData <= 1 else { throw Malformed(detail: "syscall \(seq): bad data-call flag \(isData)") }
            let line = try uint32()
            return .syscall(SyscallRecord(seq: seq, timeNs: time, poller: poller, tid: tid, fd: fd, name: name, result: result,
                                          errno: errno, isDataCall: isData == 1, sourceLine: line))
        }
    }

    private mutating func byte() throws -> UInt8 {
        guard offset < bytes.count else { throw Malformed(detail: "the chunk ends inside a record") }
        defer { offset += 1 }
        return bytes[offset]
    }

    @inline(__always)
    private mutating func unsigned() throws -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else { throw Malformed(detail: "the chunk ends inside a record") }
            let b = bytes[offset]
            offset += 1
            guard shift < 64 else { throw Malformed(detail: "a number longer than 64 bits") }
            value |= UInt64(b & 0x7F) << shift
            if b < 0x80 { return value }
            shift += 7
        }
    }

    private mutating func signed() throws -> Int64 {
        let zigzag = try unsigned()
        return Int64(bitPattern: (zigzag >> 1) ^ (0 &- (zigzag & 1)))
    }

    private mutating func int32() throws -> Int32 {
        let value = try signed()
        guard let narrow = Int32(exactly: value) else { throw Malformed(detail: "\(value) is out of range for a 32-bit field") }
        return narrow
    }

    private mutating func uint32() throws -> UInt32 {
        let value = try unsigned()
        guard let narrow = UInt32(exactly: value) else { throw Malformed(detail: "\(value) is out of range for a 32-bit field") }
        return narrow
    }

    private mutating func poller() throws -> PollerID { try uint32() }
    private mutating func registration() throws -> RegistrationID { try uint32() }
    private mutating func mask() throws -> IOEvents { IOEvents(rawValue: try uint32()) }
}
