// swift-tools-version:6.0
import PackageDescription

// libFuzzer targets for the parsers that read untrusted bytes. Build and run them
// with tools/fuzz.sh (it passes -sanitize=fuzzer and -parse-as-library, so each
// target's main.swift defines only LLVMFuzzerTestOneInput and libFuzzer supplies
// main). Not part of the root package: a plain `swift build` there cannot link
// a target without a main.
let package = Package(
    name: "PollTraceFuzz",
    dependencies: [.package(name: "PollTrace", path: "../..")],
    targets: [
        .executableTarget(name: "FuzzStraceLine", dependencies: [
            .product(name: "PollTraceStrace", package: "PollTrace"),
            .product(name: "PollTraceCore", package: "PollTrace"),
        ]),
        .executableTarget(name: "FuzzHTTPRequest", dependencies: [
            .product(name: "PollTraceDaemon", package: "PollTrace"),
        ]),
        .executableTarget(name: "FuzzTraceReader", dependencies: [
            .product(name: "PollTraceStore", package: "PollTrace"),
            .product(name: "PollTraceCore", package: "PollTrace"),
        ]),
    ]
)
