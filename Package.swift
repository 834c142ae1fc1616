// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "PollTrace",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "PollTraceCore", targets: ["PollTraceCore"]),
        .library(name: "PollTraceStore", targets: ["PollTraceStore"]),
        .library(name: "EventPoller", targets: ["EventPoller"]),
        .library(name: "PollTraceAnalysis", targets: ["PollTraceAnalysis"]),
        // For the libFuzzer targets in tools/fuzz (a package of their own).
        .library(name: "PollTraceStrace", targets: ["PollTraceStrace"]),
        .library(name: "PollTraceDaemon", targets: ["PollTraceDaemon"]),
        .executable(name: "polltrace", targets: ["polltrace"]),
        .executable(name: "polltraced", targets: ["polltraced"]),
        .executable(name: "polltrace-ebpf", targets: ["polltrace-ebpf"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The system libsqlite3 (Debian: libsqlite3-dev).
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        // Glibc does not expose sys/epoll.h, sys/eventfd.h or sys/timerfd.h; this shim does.
        .target(name: "CLinux"),
        // Records, the dispatch decision, the simulated fd table and the replayer. No I/O.
        // CLinux only for the threading primitives every module shares (NamedThread,
        // ConditionLock, MonotonicClock).
        .target(name: "PollTraceCore", dependencies: ["CLinux"]),
        .target(name: "PollTraceStore", dependencies: ["PollTraceCore", "CSQLite", "CLinux"], exclude: ["RecordingForm/README.md"]),
        .target(name: "EventPoller", dependencies: [
            "PollTraceCore", "CLinux",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "PollTraceAnalysis", dependencies: ["PollTraceCore", "PollTraceStore", "CSQLite"]),
        .target(name: "PollTraceStrace", dependencies: ["PollTraceCore", "PollTraceStore", "PollTraceAnalysis"]),
        .target(name: "PollTraceDaemon", dependencies: [
            "PollTraceCore", "PollTraceStore", "EventPoller", "CLinux",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            // `/metrics`: the daemon's counters as swift-metrics metrics, exported by swift-prometheus.
            .product(name: "CoreMetrics", package: "swift-metrics"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "polltraced", dependencies: [
            "PollTraceDaemon", "PollTraceStore",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The eBPF recorder's loader (C, libbpf; Debian: libbpf-dev). Its BPF program,
        // polltrace.bpf.c, is built into it as text and compiled with clang -target bpf
        // where it runs.
        .executableTarget(name: "polltrace-ebpf", exclude: ["polltrace.bpf.c"],
                          linkerSettings: [.linkedLibrary("bpf")]),
        .executableTarget(name: "polltrace", dependencies: [
            "PollTraceCore", "PollTraceStore", "PollTraceAnalysis", "PollTraceStrace", "PollTraceDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Benchmarks: `swift run -c release polltrace-bench --help`.
        .executableTarget(name: "polltrace-bench", dependencies: [
            "PollTraceCore", "PollTraceStore", "EventPoller", "PollTraceAnalysis", "PollTraceStrace", "CSQLite", "CLinux",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Churn load generator for polltraced: `swift run -c release polltrace-load --help`.
        .executableTarget(name: "polltrace-load", dependencies: [
            "CLinux", "PollTraceCore", "PollTraceDaemon",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "PollTraceCoreTests", dependencies: ["PollTraceCore"]),
        .testTarget(name: "PollTraceStoreTests", dependencies: ["PollTraceCore", "PollTraceStore", "CSQLite"]),
        .testTarget(name: "EventPollerTests", dependencies: ["EventPoller", "PollTraceCore", "PollTraceStore", "CLinux"]),
        .testTarget(name: "PollTraceAnalysisTests", dependencies: [
            "PollTraceAnalysis", "PollTraceCore", "PollTraceStore", "EventPoller", "CLinux",
        ]),
        .testTarget(name: "PollTraceStraceTests", dependencies: ["PollTraceStrace", "PollTraceAnalysis", "PollTraceStore", "PollTraceCore"]),
        .testTarget(name: "PollTraceDaemonTests", dependencies: ["PollTraceDaemon", "PollTraceAnalysis", "PollTraceStore", "PollTraceCore", "EventPoller", "CLinux"]),
        // Runs the built `polltrace` binary and checks output and exit codes together.
        .testTarget(name: "PollTraceCLITests", dependencies: ["PollTraceCore", "PollTraceStore", "EventPoller"]),
    ]
)
