import PollTraceCore
@testable import PollTraceStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A trace in WAL mode copied without its `-wal` file (or left by a writer killed
/// just after a checkpoint): reading it must not create files beside it (the
/// analyzer never writes next to a trace it reads), must work on a read-only file
/// system, and must say that the records since the last checkpoint are missing.
final class MissingWriteAheadLogTests: XCTestCase {
    /// A recording-form trace without its close marker, put back in WAL mode and
    /// closed, so that its `-wal` is gone: what a copy of a killed writer's file
    /// without its `-wal` looks like.
    private func walTraceWithoutItsLog(in dir: TemporaryDirectory, name: String = "copied.trace") throws
        -> (path: String, records: [TraceRecord]) {
        let records: [TraceRecord] = (1...200).map { i in
            .closed(Closed(seq: UInt64(i), timeNs: Fixtures.start + UInt64(i), poller: 1, fd: Int32(3 + i % 50)))
        }
        let path = dir.file(name)
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(finalization: nil),
                                     sequence: SequenceCounter(startingAfter: 200))
        writer.record(contentsOf: records)
        try writer.close()
        do {
            let connection = try SQLiteConnection(path: path, readOnly: false)
            try connection.execute(sql: "DELETE FROM meta WHERE key = 'closed_cleanly'")
            try connection.execute(sql: "PRAGMA journal_mode = WAL")
        }
        var header = [UInt8](repeating: 0, count: 20)
        let fd = open(path, O_RDONLY)
        defer { close(fd) }
        XCTAssertEqual(pread(fd, &header, 20, 0), 20)
        XCTAssertEqual([header[18], header[19]], [2, 2], "the file is in WAL mode")
        return (path, records)
    }

    private func names(in directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    }

    func testReadingIt_createsNoFileBesideIt_andSaysWhatIsMissing() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try walTraceWithoutItsLog(in: dir)
        let before = try names(in: dir.path)
        XCTAssertEqual(before, ["copied.trace"], "no -wal or -shm to begin with")
        let reader = try TraceReader(path: path)
        XCTAssertTrue(reader.writeAheadLogMissing)
        XCTAssertEqual(try Fixtures.readAll(path), records, "what the main file holds is read")
        XCTAssertTrue(reader.end.sentence.contains("without its -wal file"), reader.end.sentence)
        XCTAssertEqual(try names(in: dir.path), before, "reading created no file beside the trace")
    }

    /// The immutable open goes through a `file:` URI, in which `?`, `#`, `%` and a
    /// leading `//` mean something: a path holding them must still name the file,
    /// and so must a relative one.
    func testPathsWithURICharacters_relativeAndDoubleSlashed_areOpened() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try walTraceWithoutItsLog(in: dir, name: "a ?b#c%41 é.trace")
        XCTAssertTrue(try TraceReader(path: path).writeAheadLogMissing)
        XCTAssertEqual(try Fixtures.readAll(path), records)
        XCTAssertEqual(try Fixtures.readAll("/" + path), records, "a path starting with // (say \"$DIR/x\" with DIR=/)")
        let cwd = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
        defer { FileManager.default.changeCurrentDirectoryPath(cwd) }
        XCTAssertEqual(try Fixtures.readAll("a ?b#c%41 é.trace"), records, "a relative path")
        XCTAssertEqual(try names(in: dir.path), ["a ?b#c%41 é.trace"])
    }

    /// `polltrace finalize` of such a copy keeps what is missing in the v7 trace's
    /// meta, so its reports say it too.
    func testFinalizingIt_keepsWhatIsMissing() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try walTraceWithoutItsLog(in: dir)
        let finalized = dir.file("finalized.trace")
        try TraceFinalizer.finalize(source: path, destination: finalized)
        let reader = try TraceReader(path: finalized)
        XCTAssertTrue(reader.isPlain)
        XCTAssertFalse(reader.writeAheadLogMissing, "the v7 file itself is whole")
        XCTAssertTrue(reader.end.sentence.contains("without its -wal file"), reader.end.sentence)
        XCTAssertEqual(try Fixtures.query(finalized, "SELECT value FROM meta WHERE key = 'wal_missing'"), [[.integer(1)]])
        XCTAssertEqual(try Fixtures.readAll(finalized), records)
    }

    func testAClosedTrace_isNotReportedAsMissingItsLog() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("closed.trace")
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        writer.record(.closed(Closed(seq: writer.sequence.next(), timeNs: Fixtures.start, poller: 1, fd: 4)))
        try writer.close()
        let reader = try TraceReader(path: path)
        XCTAssertFalse(reader.writeAheadLogMissing)
        XCTAssertFalse(reader.end.sentence.contains("-wal"), reader.end.sentence)
    }

    /// On a read-only file system SQLite cannot create the `-shm` a WAL read needs;
    /// with nothing in a WAL to recover, the trace is still read.
    func testOnAReadOnlyFileSystem_itIsStillRead() throws {
        let dir = TemporaryDirectory()
        let (_, records) = try walTraceWithoutItsLog(in: dir)
        let mountPoint = dir.file("read-only")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard Fixtures.run("/bin/mount", ["--bind", dir.path, mountPoint]) == 0 else {
            throw XCTSkip("bind mounts are refused here (not root?): the read-only test needs one")
        }
        defer { _ = Fixtures.run("/bin/umount", [mountPoint]) }
        guard Fixtures.run("/bin/mount", ["-o", "remount,bind,ro", mountPoint]) == 0 else {
            throw XCTSkip("a read-only remount was refused")
        }
        XCTAssertEqual(try Fixtures.readAll(mountPoint + "/copied.trace"), records)
    }
}
