/// The recording form's `strings` table as its readers see it: handler labels and
/// syscall names by id, with the recently used ones cached. The cache is cleared
/// past `cacheLimit`, so memory stays bounded however many distinct labels a
/// trace has.
final class InternedStrings {
    private let byID: SQLiteStatement
    private var cache: [Int64: String] = [:]
    private let cacheLimit = 4096

    init(connection: SQLiteConnection) throws {
        byID = try connection.makeStatement(sql: "SELECT text FROM strings WHERE id = ?")
    }

    /// The text of string `id`, or nil when the table has no such row (damage,
    /// which each reader names in its own terms).
    func text(_ id: Int64) throws -> String? {
        if let cached = cache[id] { return cached }
        byID.bind(id, at: 1)
        defer { byID.reset() }
        guard try byID.step() else { return nil }
        let text = byID.text(0)
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[id] = text
        return text
    }
}
