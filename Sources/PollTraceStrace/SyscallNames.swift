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

    mutating func lookup(_ line: LineBytes, _ range: Range<Int>) -> Entry {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for i in range { hash = (hash ^ UInt64(line[i])) &* 0x0000_0100_0000_01B3 }
        if let entry = entries[hash], entry.bytes.elementsEqual(line[range]) { return entry }
        let name = line.string(range)
        let entry = Entry(bytes: Array(line[range]), name: name, role: SyscallCatalog.role(of: name))
        // Unknown names are not cached: a garbled log could hold any number of them.
        if entry.role != nil, entries[hash] == nil { entries[hash] = entry }
        return entry
    }
}
