/// A map for keys that are mostly small numbers (fd numbers, poller ids, data words
/// that hold an fd): those below `arrayLimit` index an array, the rest go to a
/// dictionary. The importer and the analysis look such keys up several times per
/// line, and an array index costs no hashing.
///
/// The array grows to the largest small key seen (the kernel hands out the lowest
/// free fd number, so fd numbers stay close to the count of open fds), never past
/// `arrayLimit`, so a damaged log cannot make it huge.
struct SmallKeyMap<Value> {
    static var arrayLimit: UInt64 { 1 << 16 }

    private var small: [Value?] = []
    private var other: [UInt64: Value] = [:]

    @inline(__always)
    subscript(key: UInt64) -> Value? {
        // Read in place: a value that holds collections is not copied (retained) to be read.
        _read {
            if key < Self.arrayLimit {
                let index = Int(key)
                if index < small.count { yield small[index] } else { yield nil }
            } else {
                yield other[key]
            }
        }
        set {
            if key < Self.arrayLimit {
                let index = Int(key)
                if index >= small.count {
                    guard newValue != nil else { return }
                    grow(to: index)
                }
                small[index] = newValue
            } else {
                other[key] = newValue
            }
        }
    }

    /// Changes the value at `key` in place, inserting `initial` first if there is none.
    @inline(__always)
    mutating func modify<R>(_ key: UInt64, inserting initial: @autoclosure () -> Value, _ body: (inout Value) -> R) -> R {
        if key < Self.arrayLimit {
            let index = Int(key)
            if index >= small.count { grow(to: index) }
            if small[index] == nil { small[index] = initial() }
            return body(&small[index]!)
        }
        if other[key] == nil { other[key] = initial() }
        return body(&other[key]!)
    }

    /// Changes the value at `key` in place if there is one.
    @inline(__always)
    mutating func modifyIfPresent(_ key: UInt64, _ body: (inout Value) -> Void) {
        if key < Self.arrayLimit {
            let index = Int(key)
            guard index < small.count, small[index] != nil else { return }
            body(&small[index]!)
            return
        }
        guard let slot = other.index(forKey: key) else { return }
        body(&other.values[slot])
    }

    /// Every entry, small keys first in increasing order, then the others in no order.
    func forEach(_ body: (UInt64, Value) -> Void) {
        for index in small.indices { if let value = small[index] { body(UInt64(index), value) } }
        for (key, value) in other { body(key, value) }
    }

    private mutating func grow(to index: Int) {
        let size = min(Int(Self.arrayLimit), max(index + 1, small.count * 2, 64))
        small.append(contentsOf: repeatElement(nil, count: size - small.count))
    }
}

extension SmallKeyMap {
    /// The key of an fd number: negative numbers (damage) land past the array.
    @inline(__always)
    static func key(_ fd: Int32) -> UInt64 { UInt64(UInt32(bitPattern: fd)) }
}
