// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for the parsers that read untrusted bytes. Build and run them
// with tools/fuzz.sh (it passes -sanitize=fuzzer). Each target's main.swift hands
// its test function to libFuzzer's driver (FuzzSupport). A package of its own, so
// the root package's builds and tests never compile it.
let package = Package(
    name: "PollTraceFuzz",
    dependencies: [.package(name: "PollTrace", path: "../..")],
    targets: [
        .target(name: "FuzzSupport"),
        .executableTarget(name: "FuzzStraceLine", dependencies: [
            "FuzzSupport",
            .product(name: "PollTraceStrace", package: "PollTrace"),
            .product(name: "PollTraceCore", package: "PollTrace"),
        ]),
        .executableTarget(name: "FuzzHTTPRequest", dependencies: [
            "FuzzSupport",
            .product(name: "PollTraceDaemon", package: "PollTrace"),
        ]),
        .executableTarget(name: "FuzzTraceReader", dependencies: [
            "FuzzSupport",
            .product(name: "PollTraceStore", package: "PollTrace"),
            .product(name: "PollTraceCore", package: "PollTrace"),
        ]),
    ]
)
