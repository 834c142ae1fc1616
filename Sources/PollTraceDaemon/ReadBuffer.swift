/// A receive buffer per poller thread, so reading allocates nothing.
final class ReadBuffer: @unchecked Sendable {
    // Used only on its poller's thread (the daemon creates one per poller).
    let storage: UnsafeMutableRawBufferPointer

    init(bytes: Int = 64 * 1024) {
        storage = .allocate(byteCount: bytes, alignment: 16)
    }

    deinit { storage.deallocate() }
}
