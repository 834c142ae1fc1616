/// The JSON text that packed rows carry (`BatchPacking`, `SyscallPacking`): arrays
/// of integers and nothing else, written without spaces. SQL users read it with
/// `json_each`; the reader parses it with `PackedTextScanner`, which accepts only
/// what `PackedTextWriter` writes, so damaged text is an error rather than a guess.

/// One row's packed text, in memory the writer allocates with a size it knows.
///
/// Why not `[UInt8]`: making a new array per row (`unsafeUninitializedCapacity`)
/// goes through the Swift runtime's generic-metadata cache on every call, a cost
/// the writer thread would pay per row. A final class with a raw allocation has its
/// metadata at compile time. Immutable once written; freed with the last row that holds it.
final class PackedTextBytes {
    let base: UnsafeMutablePointer<UInt8>
    let count: Int

    /// Takes over what `writer` wrote (its memory is freed with this object).
    init(_ writer: PackedTextWriter) {
        precondition(writer.count <= writer.capacity, "packed text overran its buffer")
        base = writer.base
        count = writer.count
    }

    deinit { base.deallocate() }

    var buffer: UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(start: base, count: count) }
}

/// Packed text that does not parse, or holds values no writer produces.
enum PackedTextError: Error { case bad(String) }

/// Writes into memory sized for the worst case: no bounds checks or array growth
/// per byte (the writer's hot loop). 21 bytes per number and its separator is
/// always enough. Kept in a local variable by the encoders (not behind a closure's
/// `inout`), so that `count` stays in a register instead of being stored back
/// per byte. Its memory goes to the
/// `PackedTextBytes` made from it.
struct PackedTextWriter {
    let base: UnsafeMutablePointer<UInt8>
    let capacity: Int
    var count = 0

    init(capacity: Int) {
        self.capacity = max(1, capacity)
        base = .allocate(capacity: self.capacity)
    }

    /// The most bytes one number and its separator take: "-9223372036854775808,".
    static let bytesPerNumber = 21

    @inline(__always)
    mutating func byte(_ value: UInt8) {
        base[count] = value
        count += 1
    }

    @inline(__always)
    mutating func comma(_ value: Int64) {
        byte(UInt8(ascii: ","))
        decimal(value)
    }

    /// "00" to "99": two digits per division, where one division per digit was
    /// most of the encoder's time (the JSON encoder is about a tenth of the writer).
    private static var digitPairs: StaticString {
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"
    }

    /// The decimal digits of `magnitude`: a chain of compares against
    /// constants, smallest first, as the writer's numbers are mostly short: cheaper
    /// than multiplying a limit by 10 per digit.
    @inline(__always)
    static func digitCount(_ magnitude: UInt64) -> Int {
        if magnitude < 10 { return 1 }
        if magnitude < 100 { return 2 }
        if magnitude < 1_000 { return 3 }
        if magnitude < 10_000 { return 4 }
        if magnitude < 100_000 { return 5 }
        if magnitude < 1_000_000 { return 6 }
        if magnitude < 10_000_000 { return 7 }
        if magnitude < 100_000_000 { return 8 }
        if magnitude < 1_000_000_000 { return 9 }
        var digits = 10
        var limit: UInt64 = 10_000_000_000
        while digits < 20 && magnitude >= limit {
            digits += 1
            if digits < 20 { limit &*= 10 }
        }
        return digits
    }

    @inline(__always)
    mutating func decimal(_ value: Int64) {
        if value >= 0 && value < 10 {
            byte(UInt8(truncatingIfNeeded: value) &+ 48)
            return
        }
        if value < 0 { byte(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        let digits = Self.digitCount(magnitude)
        let pairs = Self.digitPairs.utf8Start
        var at = count + digits
        while magnitude >= 100 {
            let next = magnitude / 100
            let pair = Int(truncatingIfNeeded: magnitude &- next &* 100) &* 2
            at -= 2
            base[at] = pairs[pair]
            base[at + 1] = pairs[pair + 1]
            magnitude = next
        }
        if magnitude >= 10 {
            let pair = Int(truncatingIfNeeded: magnitude) &* 2
            at -= 2
            base[at] = pairs[pair]
            base[at + 1] = pairs[pair + 1]
        } else {
            at -= 1
            base[at] = UInt8(truncatingIfNeeded: magnitude) &+ 48
        }
        count += digits
    }
}

/// Just enough of a JSON reader for what `PackedTextWriter` writes: arrays and
/// integers, no spaces.
struct PackedTextScanner {
    /// The row the text belongs to, so that an error names it.
    enum Row {
        case batch(UInt64)
        case syscalls(UInt64)
    }

    let bytes: UnsafeBufferPointer<UInt8>
    let row: Row
    var at = 0

    init(bytes: UnsafeBufferPointer<UInt8>, row: Row) {
        self.bytes = bytes
        self.row = row
    }

    var atEnd: Bool { at == bytes.count }

    func failure(_ what: String) -> PackedTextError {
        switch row {
        case .batch(let seq):
            .bad("batch \(seq): its packed events (column e) are malformed: \(what) near byte \(at)")
        case .syscalls(let seq):
            .bad("syscall \(seq): the calls packed after it (column more) are malformed: \(what) near byte \(at)")
        }
    }

    @inline(__always)
    mutating func take(_ byte: UInt8) throws -> Bool {
        if at < bytes.count && bytes[at] == byte { at += 1; return true }
        return false
    }

    @inline(__always)
    mutating func expect(_ byte: UInt8) throws {
        guard try take(byte) else { throw failure("expected '\(Character(Unicode.Scalar(byte)))'") }
    }

    @inline(__always)
    mutating func integer() throws -> Int64 {
        let negative = at < bytes.count && bytes[at] == UInt8(ascii: "-")
        if negative { at += 1 }
        var value: UInt64 = 0
        let first = at
        while at < bytes.count {
            let digit = bytes[at] &- 48
            guard digit < 10 else { break }
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
            guard !o1 && !o2 else { throw failure("a number does not fit 64 bits") }
            value = sum
            at += 1
        }
        guard at > first, at - first <= 20 else { throw failure("expected a number") }
        if negative {
            guard value <= UInt64(Int64.max) + 1 else { throw failure("a number does not fit 64 bits") }
            return value == UInt64(Int64.max) + 1 ? Int64.min : -Int64(value)
        }
        guard value <= UInt64(Int64.max) else { throw failure("a number does not fit 64 bits") }
        return Int64(value)
    }
}
