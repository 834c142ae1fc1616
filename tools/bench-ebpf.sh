#!/usr/bin/env bash
# What recording costs redis-server: redis-benchmark PING (50 clients on
# 127.0.0.1), plain and pipelined (-P 16), untraced, recorded with
# `polltrace record --backend ebpf`, and recorded with `--backend strace`
# (which uses strace --seccomp-bpf where the kernel allows it).
#
#   tools/bench-ebpf.sh
#
# Environment: REQUESTS (plain run, default 100000), PIPELINED_REQUESTS (-P 16
# run, default 400000), RUNS (default 3), PORT (default 16390), POLLTRACE (the
# binary, default .build/release/polltrace, built if missing).
#
# Prints, per load and backend, the median requests/s, its ratio to the
# untraced median of the same run, the recorder's own CPU seconds while the load
# ran (the eBPF loader, polltrace-ebpf, or strace; polltrace's import after the
# program exits is printed apart), and the records the kernel's ring buffer
# lost (eBPF). The CPU the BPF program itself costs runs in the traced calls, so
# it shows in the throughput, not in the recorder's CPU.
# Needs root, strace, redis-server and redis-benchmark, and for eBPF clang and
# libbpf-dev (Debian: strace redis-server redis-tools clang libbpf-dev).
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS="${REQUESTS:-100000}"
PIPELINED_REQUESTS="${PIPELINED_REQUESTS:-400000}"
RUNS="${RUNS:-3}"
PORT="${PORT:-16390}"
POLLTRACE="${POLLTRACE:-.build/release/polltrace}"
if [ ! -x "$POLLTRACE" ]; then swift build -c release --product polltrace >&2; fi
# The loader is found beside polltrace.
if [ ! -x "$(dirname "$POLLTRACE")/polltrace-ebpf" ]; then swift build -c release --product polltrace-ebpf >&2; fi
for tool in redis-server redis-benchmark strace clang; do
    command -v "$tool" >/dev/null || { echo "bench-ebpf: $tool is not installed" >&2; exit 2; }
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REDIS=(redis-server --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --daemonize no --dir "$WORK" --loglevel warning)

echo "machine: $(nproc) cores, $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
echo "redis: $(redis-server --version | cut -d' ' -f3), libbpf: $(dpkg-query -W -f '${Version}' libbpf-dev 2>/dev/null || echo '?'), strace: $(strace -V | head -1)"

wait_port() {
    for _ in $(seq 1200); do
        redis-cli -p "$PORT" ping >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    echo "bench-ebpf: redis did not listen on $PORT" >&2; return 1
}

# CPU seconds (user+system) of a pid so far.
cpu_of() {
    awk '{ printf "%.2f", ($14 + $15) / '"$(getconf CLK_TCK)"' }' "/proc/$1/stat" 2>/dev/null || echo "?"
}

# One benchmark against a running redis: prints requests/s and the CPU
# microseconds redis-server and redis-benchmark used per request (user+system:
# where the BPF program's time goes, and less disturbed by other load on the
# machine than throughput).
load() {
    local n=$1 pipeline=$2
    local server; server=$(redis-cli -p "$PORT" info server | tr -d '\r' | sed -n 's/^process_id://p')
    local before; before=$(cpu_of "$server")
    local rps; rps=$(/usr/bin/time -f '%U %S' -o "$WORK/time" \
        redis-benchmark -p "$PORT" -c 50 -n "$n" -P "$pipeline" -t ping_inline -q 2>/dev/null \
        | tr '\r' '\n' | awk '/requests per second/ { for (i = 1; i <= NF; i++) if ($i == "requests") { print $(i - 1); exit } }')
    local after; after=$(cpu_of "$server")
    local client; client=$(awk 'END { print $1 + $2 }' "$WORK/time")
    echo "$rps $(echo "scale=2; ($after - $before + $client) * 1000000 / $n" | bc)"
}

# run BACKEND N PIPELINE: prints "rps cpu_us_per_request recorder_cpu import_seconds lost".
run() {
    local backend=$1 n=$2 pipeline=$3
    if [ "$backend" = none ]; then
        "${REDIS[@]}" >/dev/null 2>&1 &
        local server=$!
        wait_port
        local measured; measured=$(load "$n" "$pipeline")
        redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
        wait "$server" || true
        echo "$measured - - -"
        return
    fi
    "$POLLTRACE" record --backend "$backend" --force -o "$WORK/trace" -- "${REDIS[@]}" >/dev/null 2>"$WORK/err" &
    local recorder=$!
    wait_port
    local tracer; tracer=$(pgrep -P "$recorder" -x "$( [ "$backend" = ebpf ] && echo polltrace-ebpf || echo strace )" | head -1)
    local before; before=$(cpu_of "$tracer")
    local measured; measured=$(load "$n" "$pipeline")
    local after; after=$(cpu_of "$tracer")
    local stopped; stopped=$(date +%s.%N)
    redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    wait "$recorder" || true
    local imported; imported=$(echo "$(date +%s.%N) - $stopped" | bc)
    local lost; lost=$(sed -nE 's/.* ([0-9]+) events lost.*/\1/p' "$WORK/err" | head -1)
    echo "$measured $(echo "$after - $before" | bc) $imported ${lost:-0}"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for spec in "plain:$REQUESTS:1" "pipelined:$PIPELINED_REQUESTS:16"; do
    IFS=: read -r name n pipeline <<<"$spec"
    echo
    echo "== PING, 50 clients, -P $pipeline, $n requests, $RUNS run(s); backends interleaved per run"
    for backend in none ebpf strace; do : >"$WORK/$backend"; done
    for r in $(seq "$RUNS"); do
        for backend in none ebpf strace; do
            line=$(run "$backend" "$n" "$pipeline")
            echo "  run $r $backend: rps=$(cut -d' ' -f1 <<<"$line") cpu_us_per_request=$(cut -d' ' -f2 <<<"$line")" \
                 "recorder_cpu_s=$(cut -d' ' -f3 <<<"$line") import_s=$(cut -d' ' -f4 <<<"$line") lost=$(cut -d' ' -f5 <<<"$line")"
            echo "$line" >>"$WORK/$backend"
        done
    done
    base=$(cut -d' ' -f1 "$WORK/none" | median)
    base_cpu=$(cut -d' ' -f2 "$WORK/none" | median)
    echo "  median untraced: $base requests/s, $base_cpu CPU us/request"
    for backend in ebpf strace; do
        m=$(cut -d' ' -f1 "$WORK/$backend" | median)
        c=$(cut -d' ' -f2 "$WORK/$backend" | median)
        # Each run's traced/untraced pair, then their median: drift in the machine's
        # speed during the call moves both halves of a pair.
        pairs=$(paste -d' ' "$WORK/$backend" "$WORK/none" | awk '{ printf "%.3f\n", $1 / $6 }' | median)
        echo "  median $backend: $m requests/s, ratio $(echo "scale=3; $m / $base" | bc) (median of per-run ratios $pairs)," \
             "CPU $c us/request (x$(echo "scale=2; $c / $base_cpu" | bc) untraced)," \
             "recorder CPU $(cut -d' ' -f3 "$WORK/$backend" | median) s, lost $(cut -d' ' -f5 "$WORK/$backend" | sort -g | tail -1)"
    done
done
