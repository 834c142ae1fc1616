/// What a `RegistrationMap` can hold: a value with a placeholder for empty slots.
protocol RegistrationMapValue: Sendable {
    static var placeholder: Self { get }
}

/// A hash map keyed by registration id, for replay's per-record lookups.
///
/// `Dictionary` hashes every key with SipHash (seeded per process, to resist
/// collision attacks), which made hashing the largest single cost of replay. Ids in
/// a trace are mostly consecutive small numbers, and a trace is the user's own
/// input, so a multiplicative (Fibonacci) hash with linear probing is both safe
/// enough and several times cheaper. Deletion shifts later entries back instead of
/// leaving tombstones, so a long trace with millions of registrations keeps probes
/// short and memory at the live count.
///
/// The map is never iterated, so its slot order cannot leak into a report: replay
/// stays deterministic however the table grows.
///
/// Empty slots hold a placeholder rather than `nil`: a slot is then read and
/// changed in place through the array's own accessors. (With `Optional` values,
/// every read copied the whole registration, strings and all.) Generic over the
/// value, and used only inside this module, where it is specialized for each use.
struct RegistrationMap<Value: RegistrationMapValue>: Sendable {
    private static var emptyKey: UInt64 { .max }
    /// `emptyKey`, or the id in the low 32 bits. Power-of-two length.
    private var keys: [UInt64]
    /// `Value.placeholder` where the key is empty.
    private var values: [Value]
    private(set) var count = 0
    /// 64 - log2(capacity): the hash keeps the product's high bits, the well-mixed ones.
    private var shift: UInt64

    init() {
        keys = Array(repeating: Self.emptyKey, count: 16)
        values = Array(repeating: .placeholder, count: 16)
        shift = 64 - 4
    }

    @inline(__always)
    private func home(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) &>> shift)
    }

    /// The slot holding `id`, valid until the next insert or removal.
    @inline(__always)
    func slot(of id: RegistrationID) -> Int? {
        let key = UInt64(id)
        let mask = keys.count &- 1
        var i = home(key)
        while true {
            let found = keys[i]
            if found == key { return i }
            if found == Self.emptyKey { return nil }
            i = (i &+ 1) & mask
        }
    }

    /// The value in a slot from `slot(of:)`, read or changed in place (no copy).
    /// For a whole record (a finding's), use `record(inSlot:)`.
    subscript(slot i: Int) -> Value {
        _read { yield values[i] }
        _modify { yield &values[i] }
    }

    /// A copy of the registration record in a slot, for the findings that keep one.
    ///
    /// Not `self[slot: i].record`: Swift 6.3.1's debug builds wrap a struct lent
    /// by a `_read` into an `Optional` after the access has ended, so passing
    /// that as a finding's `ran:` put garbage in its first 16 bytes (spin findings
    /// named registrations that never existed). Release builds were not affected;
    /// scalars read through the subscript are.
    func record(inSlot i: Int) -> RegistrationRecord where Value == ReplayRegistration { values[i].record }

    subscript(id: RegistrationID) -> Value? {
        guard let i = slot(of: id) else { return nil }
        return values[i]
    }

    func contains(_ id: RegistrationID) -> Bool { slot(of: id) != nil }

    /// Inserts or replaces; returns the value replaced.
    @discardableResult
    mutating func updateValue(_ value: Value, forKey id: RegistrationID) -> Value? {
        if let i = slot(of: id) {
            let old = values[i]
            values[i] = value
            return old
        }
        if (count + 1) * 2 > keys.count { grow() }
        let key = UInt64(id)
        let mask = keys.count &- 1
        var i = home(key)
        while keys[i] != Self.emptyKey { i = (i &+ 1) & mask }
        keys[i] = key
        values[i] = value
        count += 1
        return nil
    }

    @discardableResult
    mutating func removeValue(forKey id: RegistrationID) -> Value? {
        guard var hole = slot(of: id) else { return nil }
        let removed = values[hole]
        let mask = keys.count &- 1
        // Backward-shift deletion: move each later entry of the probe run into the
        // hole unless its home lies cyclically in (hole, j], where it must stay.
        var j = hole
        while true {
            j = (j &+ 1) & mask
            let key = keys[j]
            if key == Self.emptyKey { break }
            let h = home(key)
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            keys[hole] = key
            values[hole] = values[j]
            hole = j
        }
        keys[hole] = Self.emptyKey
        values[hole] = .placeholder
        count -= 1
        return removed
    }

    private mutating func grow() {
        let oldKeys = keys
        let oldValues = values
        let capacity = keys.count * 2
        keys = Array(repeating: Self.emptyKey, count: capacity)
        values = Array(repeating: .placeholder, count: capacity)
        shift -= 1
        let mask = capacity - 1
        for (n, key) in oldKeys.enumerated() where key != Self.emptyKey {
            var i = home(key)
            while keys[i] != Self.emptyKey { i = (i &+ 1) & mask }
            keys[i] = key
            values[i] = oldValues[n]
        }
    }
}
