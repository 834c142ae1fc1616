/// A fixed list of objects for hot paths, reached without a retain and a release
/// per access.
///
/// Why: taking an object out of a plain array retains it and releases it again,
/// and the record path reaches one of these on every
/// record (a record buffer's shard, a daemon lane, a statistics tally). The list
/// owns its objects, so a borrowed reference stays valid for as long as the list.
public struct UnretainedObjects<Object: AnyObject> {
    /// Owns the objects; `unretained` only points at them.
    public let all: [Object]
    @usableFromInline let unretained: [Unmanaged<Object>]

    public init(_ objects: [Object]) {
        all = objects
        unretained = objects.map { Unmanaged.passUnretained($0) }
    }

    public var count: Int { all.count }

    /// Runs `body` with the object at `index`, borrowed.
    @inlinable @inline(__always)
    public func with<Result>(_ index: Int, _ body: (Object) throws -> Result) rethrows -> Result {
        try unretained[index]._withUnsafeGuaranteedRef(body)
    }
}

extension UnretainedObjects: @unchecked Sendable where Object: Sendable {}
