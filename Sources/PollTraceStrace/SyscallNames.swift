/// Looks syscall names up by their bytes, without making a `String` per line.
///
/// The importer sees a handful of names millions of times. This cache keys them by
/// an FNV-1a hash of the bytes (checked against the stored bytes, so a collision
/// cannot mix two names up) and hands back the name's `String` made once.
struct SyscallNames {
    struct Entry {
        var bytes: [UInt8]
        var name: String
        /// nil for a name no kernel has.
        var role: SyscallRole?
    }

    private var entries: [UInt64: Entry] = [:]
    /// A direct-mapped cache in front of `entries`: most lines hit it without hashing
    /// the key a second time.
    private var recent: [(hash: UInt64, entry: Entry)?] = Array(repeating: nil, count: 64)

    mutating func lookup(_ line: LineBytes, _ range: Range<Int>) -> Entry {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in range { hash = (hash ^ UInt64(line[i])) &* 0x0000_0100_0000_01B3 }
        let slot = Int(truncatingIfNeeded: hash & 63)
        if let hit = recent[slot], hit.hash == hash, hit.entry.bytes.elementsEqual(line[range]) { return hit.entry }
        if let entry = entries[hash], entry.bytes.elementsEqual(line[range]) {
            recent[slot] = (hash, entry)
            return entry
        }
        let name = line.string(range)
        let entry = Entry(bytes: Array(line[range]), name: name, role: SyscallCatalog.role(of: name))
        // Unknown names are not cached: a garbled log could hold any number of them.
        if entry.role != nil, entries[hash] == nil { entries[hash] = entry }
        return entry
    }
}
