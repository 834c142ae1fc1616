#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Looks syscall names up by their bytes, without making a `String` per line.
///
/// The importer sees a handful of names millions of times. This cache keys them by
/// an FNV-1a hash of the bytes (checked against the stored bytes, so a collision
/// cannot mix two names up) and hands back the name's `String` made once.
struct SyscallNames {
    /// What a lookup gives: plain values (the name is a short string), so that
    /// handing one out costs no reference counting beyond the name's.
    struct Entry {
        var name: String
        /// nil for a name no kernel has.
        var role: SyscallRole?
    }

    private struct Known {
        var bytes: [UInt8]
        var entry: Entry
    }

    private var known: [Known] = []
    private var indexOfHash: [UInt64: Int] = [:]
    /// A direct-mapped cache in front of `indexOfHash`, by the hash's low bits: most
    /// lines hit it without hashing the key a second time. -1 marks an empty slot.
    private var recent: [(hash: UInt64, index: Int)] = Array(repeating: (0, -1), count: 64)

    mutating func lookup(_ line: LineBytes, _ range: Range<Int>) -> Entry {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in range { hash = (hash ^ UInt64(line[i])) &* 0x0000_0100_0000_01B3 }
        let slot = Int(truncatingIfNeeded: hash & 63)
        let hit = recent[slot]
        if hit.index >= 0, hit.hash == hash, Self.same(known[hit.index].bytes, line, range) { return known[hit.index].entry }
        if let index = indexOfHash[hash], Self.same(known[index].bytes, line, range) {
            recent[slot] = (hash, index)
            return known[index].entry
        }
        let name = line.string(range)
        let entry = Entry(name: name, role: SyscallCatalog.role(of: name))
        // Unknown names are not cached: a garbled log could hold any number of them.
        if entry.role != nil, indexOfHash[hash] == nil {
            known.append(Known(bytes: Array(line[range]), entry: entry))
            indexOfHash[hash] = known.count - 1
        }
        return entry
    }

    /// Whether `bytes` are the bytes of `range` in `line`.
    @inline(__always)
    private static func same(_ bytes: [UInt8], _ line: LineBytes, _ range: Range<Int>) -> Bool {
        guard bytes.count == range.count else { return false }
        guard let base = line.baseAddress, !range.isEmpty else { return range.isEmpty }
        return bytes.withUnsafeBufferPointer { memcmp($0.baseAddress!, base + range.lowerBound, range.count) == 0 }
    }
}
