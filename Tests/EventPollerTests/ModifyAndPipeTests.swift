import EventPoller
import Glibc
import PollTraceCore
import XCTest

/// EPOLL_CTL_MOD inside a batch, and fds made as pipes or adopted.
final class ModifyAndPipeTests: XCTestCase {
    /// Batch: [control eventfd, UDP socket writable]. The control handler narrows
    /// the UDP socket's interest to IN. The OUT event was harvested before that.
    func testModifyEarlierInTheBatch_guardedDropsTheBitsNoLongerAskedFor_naiveDeliversThem() throws {
        for policy in [DispatchPolicy.guarded, .naive] {
            let collector = RecordCollector()
            let poller = try EventPoller(id: 1, policy: policy, recorder: collector)
            defer { try? poller.close() }
            let controlFD = try poller.makeEventFD(initialValue: 1)
            let udpFD = try poller.makeUDPSocket()
            let delivered = Box<[IOEvents]>([])
            let udp = Box<Registration?>(nil)
            try poller.register(fd: controlFD, interest: .readable, label: "control") { _, context in
                _ = try Linux.EventFd.read(fd: context.registration.fd)
                try context.poller.modify(udp.value!, interest: .readable)
            }
            udp.value = try poller.register(fd: udpFD, interest: [.readable, .writable], label: "udp") { mask, _ in
                delivered.value.append(mask)
            }
            let mark = collector.sequence.current
            XCTAssertEqual(try poller.runOnce(timeoutMs: 5_000), 2, "precondition: both fds ready in one batch")
            let records = collector.records(after: mark)
            XCTAssertEqual(records.compactMap(\.batch).first?.events.map(\.fd), [controlFD, udpFD],
                           "precondition: the control event comes first (it was ready first)")
            assertKinds(records, [.batch, .dispatch, .modified, .dispatch], "\(policy)")
            let last = records.last?.dispatch
            switch policy {
            case .guarded:
                XCTAssertEqual(delivered.value, [], "guarded: OUT is no longer in the interest, nothing is delivered")
                XCTAssertEqual(last?.suppression, .notInterested)
            default:
                XCTAssertEqual(delivered.value, [.writable], "naive delivers the harvested mask as it was")
                XCTAssertEqual(last?.ranRegistrationID, udp.value?.registrationID)
            }
            if case .modified(let modified) = records[2] {
                XCTAssertEqual(modified.interest, .readable)
                XCTAssertEqual(modified.registrationID, udp.value?.registrationID)
            }
        }
    }

    func testPipeEndsAndAdoptedFDs_getFDOpenedRecords_andThePipeCarriesData() throws {
        let collector = RecordCollector()
        let poller = try EventPoller(id: 4, recorder: collector)
        defer { try? poller.close() }
        let mark = collector.sequence.current
        let pipe = try poller.makePipe()
        let duplicate = dup(pipe.write)
        poller.adopt(fd: duplicate, origin: .dup)
        let received = Box<[UInt8]>([])
        try poller.register(fd: pipe.read, interest: .readable, label: "pipe") { _, context in
            var buffer = [UInt8](repeating: 0, count: 16)
            let read = try buffer.withUnsafeMutableBytes { try Linux.FileDescriptor.read(fd: context.registration.fd, into: $0) }
            if case .processed(let count) = read { received.value += buffer[..<count] }
        }
        _ = try [UInt8]([1, 2, 3]).withUnsafeBytes { try Linux.FileDescriptor.write(fd: duplicate, from: $0) }
        try poller.runOnce(timeoutMs: 5_000)
        XCTAssertEqual(received.value, [1, 2, 3])
        let opened = collector.records(after: mark).compactMap { record -> FDOpened? in
            if case .fdOpened(let o) = record { o } else { nil }
        }
        XCTAssertEqual(opened.map(\.fd), [pipe.read, pipe.write, duplicate])
        XCTAssertEqual(opened.map(\.origin), [.pipe, .pipe, .dup])
        XCTAssertEqual(opened.map(\.poller), [4, 4, 4])
        try poller.close(fd: pipe.write)
        try poller.close(fd: duplicate)
    }
}
