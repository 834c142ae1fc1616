import Foundation

/// A file written in pieces to a temporary name beside its destination and moved
/// into place by `commit()`: a run that fails halfway leaves no partial file.
final class OutputFile {
    let path: String
    private let temporary: String
    private let handle: FileHandle
    private var committed = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init(path: String) throws {
        self.path = path
        temporary = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: nil),
              let handle = FileHandle(forWritingAtPath: temporary) else {
            throw Failure(description: "cannot write '\(path)': \(String(cString: strerror(errno)))")
        }
        self.handle = handle
    }

    func write(_ text: String) throws {
        do { try handle.write(contentsOf: Data(text.utf8)) } catch {
            throw Failure(description: "cannot write '\(path)': \(error.localizedDescription)")
        }
    }

    func commit() throws {
        try handle.close()
        if rename(temporary, path) != 0 {
            throw Failure(description: "cannot move the output into place at '\(path)': \(String(cString: strerror(errno)))")
        }
        committed = true
    }

    deinit {
        if !committed {
            try? handle.close()
            unlink(temporary)
        }
    }
}
