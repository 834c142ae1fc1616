/// libFuzzer's entry point for a program that has its own `main`.
///
/// SwiftPM links an executable target with `main` aliased to the target's own
/// entry point, so libFuzzer's `main` cannot be used; each target's main.swift
/// calls `runFuzzer` instead, which hands the command line to libFuzzer.
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

public typealias FuzzTest = @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt

/// Runs libFuzzer with this process's arguments and `test` as the target; returns
/// libFuzzer's exit code.
public func runFuzzer(_ test: FuzzTest) -> CInt {
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    return LLVMFuzzerRunDriver(&argc, &argv, test)
}
