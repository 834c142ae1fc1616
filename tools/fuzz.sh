#!/usr/bin/env bash
# Builds one libFuzzer target (tools/fuzz, Swift's -sanitize=fuzzer) and runs it.
#
#   tools/fuzz.sh TARGET SECONDS [libFuzzer flags...]
#
# TARGET: strace-line (the strace log importer and hazard analysis), http-request
# (the control API's request parser) or trace-reader (TraceReader on mutated small
# traces: an import's v7 trace and a killed recording's record chunks). The corpus
# grows in .build/fuzz/TARGET/corpus (seeded from the repo's fixtures); crashing
# inputs land in .build/fuzz/TARGET/ as crash-*, and the script exits non-zero. Commit a crashing input under Tests/FuzzRegressions/TARGET/:
# FuzzRegressionTests replays every file there through the same code.
# The last lines of output are libFuzzer's: executions (#N), coverage (cov:),
# features (ft:) and corpus size.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { echo "usage: tools/fuzz.sh strace-line|http-request|trace-reader SECONDS [libFuzzer flags...]" >&2; exit 2; }
target=$1 seconds=$2; shift 2
case "$seconds" in ''|*[!0-9]*) echo "SECONDS must be a whole number" >&2; exit 2 ;; esac
case "$target" in
    strace-line) product=FuzzStraceLine ;;
    http-request) product=FuzzHTTPRequest ;;
    trace-reader) product=FuzzTraceReader ;;
    *) echo "unknown target '$target' (strace-line, http-request, trace-reader)" >&2; exit 2 ;;
esac

root=$PWD
work="$root/.build/fuzz/$target"
mkdir -p "$work/corpus"
build() {
    swift build -c release --package-path tools/fuzz --product "$product" \
        -Xswiftc -sanitize=fuzzer -Xswiftc -use-ld=lld >&2
}
# SwiftPM keeps the build plan of this nested package when the root package's files
# are added or removed, and then fails on "missing inputs": plan it afresh once.
if ! build; then
    echo "fuzz.sh: build failed; retrying with a fresh build plan" >&2
    rm -f tools/fuzz/.build/release.yaml tools/fuzz/.build/build.db
    build
fi
binary="$(swift build -c release --package-path tools/fuzz --show-bin-path)/$product"

# Seeds: the repo's own inputs, and every committed regression input.
case "$target" in
    strace-line)
        cp -n Tests/StraceFixtures/logs/*.strace "$work/corpus/" 2>/dev/null || true
        extra=(-max_len=4096 -dict="$root/tools/fuzz/strace.dict") ;;
    http-request)
        printf '\x07GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n' >"$work/corpus/get"
        printf '\x10POST /api/rtp/open?port=0 HTTP/1.1\r\nContent-Length: 11\r\n\r\n{"port": 0}' >"$work/corpus/post"
        printf '\x03POST /api/trace/rotate HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' >"$work/corpus/chunked"
        extra=(-max_len=2048 -dict="$root/tools/fuzz/http.dict") ;;
    trace-reader)
        # A small trace in the current schema, made by the importer.
        if [ ! -e "$work/corpus/seed-pre5.11.trace" ]; then
            swift build --product polltrace >&2
            .build/debug/polltrace import Tests/StraceFixtures/logs/seed-pre5.11.strace \
                -o "$work/corpus/seed-pre5.11.trace" --force >/dev/null || [ -e "$work/corpus/seed-pre5.11.trace" ]
        fi
        # A killed recording in record chunks, the layout a recording is written in.
        cp -n Tests/TraceFixtures/recording-guarded.chunks.sqlite "$work/corpus/" 2>/dev/null || true
        size=$(stat -c %s "$work/corpus/seed-pre5.11.trace" Tests/TraceFixtures/recording-guarded.chunks.sqlite | sort -n | tail -1)
        extra=(-max_len="$size") ;;
esac
[ -d "Tests/FuzzRegressions/$target" ] && cp -n "Tests/FuzzRegressions/$target"/* "$work/corpus/" 2>/dev/null || true

# Swift's backtracer would catch the crash first; let libFuzzer's handler save the input.
export SWIFT_BACKTRACE=enable=no
cd "$work"
exec "$binary" corpus -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$work/" "${extra[@]}" "$@"
