/// A map keyed by fd number, for the simulated fd table and interest lists.
///
/// The kernel hands out the lowest free number, so the numbers in use stay close
/// to the count of open fds: an array indexed by fd answers each lookup without
/// hashing, and its length follows the peak of open fds, not the trace's length.
/// Numbers no kernel would hand out under that rule (negative, or past
/// `arrayLimit`) go to a dictionary, so a damaged trace cannot make the array huge.
struct FDMap<Value> {
    static var arrayLimit: Int32 { 1 << 16 }
    private var array: [Value?] = []
    private var other: [Int32: Value] = [:]
    private(set) var count = 0

    init() {}

    @inline(__always)
    subscript(fd: Int32) -> Value? {
        if fd >= 0 && Int(fd) < array.count { return array[Int(fd)] }
        if fd >= 0 && fd < Self.arrayLimit { return nil }
        return other[fd]
    }

    /// Inserts or replaces; returns the value replaced.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey fd: Int32) -> Value? {
        guard fd >= 0 && fd < Self.arrayLimit else {
            let old = other.updateValue(value, forKey: fd)
            if old == nil { count += 1 }
            return old
        }
        let i = Int(fd)
        if i >= array.count {
            let size = min(Int(Self.arrayLimit), max(i + 1, array.count * 2, 64))
            array.append(contentsOf: repeatElement(nil, count: size - array.count))
        }
        let old = array[i]
        array[i] = value
        if old == nil { count += 1 }
        return old
    }

    @discardableResult
    mutating func removeValue(forKey fd: Int32) -> Value? {
        let old: Value?
        if fd >= 0 && Int(fd) < array.count {
            old = array[Int(fd)]
            array[Int(fd)] = nil
        } else if fd >= 0 && fd < Self.arrayLimit {
            old = nil
        } else {
            old = other.removeValue(forKey: fd)
        }
        if old != nil { count -= 1 }
        return old
    }

    /// Changes the value in place, if there is one.
    @inline(__always)
    mutating func modify(_ fd: Int32, _ body: (inout Value) -> Void) {
        if fd >= 0 && Int(fd) < array.count {
            if array[Int(fd)] != nil { body(&array[Int(fd)]!) }
        } else if fd < 0 || fd >= Self.arrayLimit {
            if other[fd] != nil { body(&other[fd]!) }
        }
    }
}

extension FDMap: Sendable where Value: Sendable {}

/// A set of fd numbers: a bitmap for the numbers an `FDMap` keeps in its array.
struct FDSet: Sendable {
    private var bits: [UInt64] = []
    private var other: Set<Int32> = []

    init() {}

    func contains(_ fd: Int32) -> Bool {
        if fd >= 0 && fd < FDMap<Bool>.arrayLimit {
            let word = Int(fd) >> 6
            return word < bits.count && bits[word] & (1 << UInt64(fd & 63)) != 0
        }
        return other.contains(fd)
    }

    mutating func insert(_ fd: Int32) {
        guard fd >= 0 && fd < FDMap<Bool>.arrayLimit else { other.insert(fd); return }
        let word = Int(fd) >> 6
        if word >= bits.count { bits.append(contentsOf: repeatElement(0, count: max(word + 1, bits.count * 2) - bits.count)) }
        bits[word] |= 1 << UInt64(fd & 63)
    }
}
