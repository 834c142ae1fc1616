import FuzzSupport
import Glibc
import PollTraceCore
import PollTraceStore

/// Writes the input to a file and reads it as a trace through the public reader
/// API: open (the file checks and the metadata), then every record. Any error is
/// fine; a crash, a hang or unbounded memory is not. The file is in /dev/shm when
/// it exists, so the fuzzer does not wear a disk.
private let tracePath: String = {
    let directory = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(directory)/polltrace-fuzz-\(getpid()).sqlite"
}()

func fuzzTraceReader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    for suffix in ["", "-wal", "-shm", "-journal"] { unlink(tracePath + suffix) }
    let fd = open(tracePath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    var written = 0
    while written < size {
        let n = write(fd, data + written, size - written)
        if n <= 0 { break }
        written += n
    }
    close(fd)
    guard let reader = try? TraceReader(path: tracePath) else { return 0 }
    _ = reader.metadata
    guard var cursor = try? reader.records() else { return 0 }
    var count = 0
    while let record = try? cursor.next() {
        _ = record.seq
        count += 1
        if count > 1_000_000 { break }
    }
    return 0
}

exit(runFuzzer { data, size in fuzzTraceReader(data, size) })
