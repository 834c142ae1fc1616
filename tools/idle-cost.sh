#!/usr/bin/env bash
# What an idle polltraced costs on disk: trace records and bytes per second with no
# client at all, against the same daemon with one idle kept-alive control
# connection (which keeps the 100 ms control sweep, and so its trace records,
# running: what every idle daemon paid before the sweep ran only for clients).
#
#   tools/idle-cost.sh [SECONDS]     seconds per phase, default 10 (at most 25:
#                                    the idle connection is closed after 30 s)
#
# Environment: CONFIG (debug or release, default release), PORT (default 18196).
# Bytes: the daemon's wchar (/proc/PID/io) over the phase, with no request during
# it. Records: /api/stats records_seen around the phase, so they include the two
# stats requests that measure them (about a dozen records).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_PHASE="${1:-10}"
case "$SECONDS_PER_PHASE" in ''|*[!0-9]*) echo "SECONDS must be a whole number" >&2; exit 2 ;; esac
[ "$SECONDS_PER_PHASE" -ge 1 ] && [ "$SECONDS_PER_PHASE" -le 25 ] || { echo "SECONDS must be in 1...25" >&2; exit 2; }
CONFIG="${CONFIG:-release}"
PORT="${PORT:-18196}"
swift build -c "$CONFIG" --product polltraced >/dev/null
DIR=$(mktemp -d /tmp/polltraced-idle.XXXXXX)
".build/$CONFIG/polltraced" --port "$PORT" --trace-dir "$DIR" --log-level warning &
DAEMON=$!
trap 'kill -TERM $DAEMON 2>/dev/null; wait $DAEMON 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

records() { curl -s --max-time 5 "http://127.0.0.1:$PORT/api/stats" | jq -r '.trace.records_seen'; }
written() { awk '/^wchar/ {print $2}' "/proc/$DAEMON/io"; }  # bytes the daemon passed to write calls
measure() {  # prints "records/s bytes/s" over one phase; no request during it
    local r0 w0 r1 w1
    r0=$(records)
    sleep 1  # the stats request's own records are flushed, its connection closed
    w0=$(written)
    sleep "$SECONDS_PER_PHASE"
    w1=$(written)
    r1=$(records)
    awk -v r="$((r1 - r0))" -v w="$((w1 - w0))" -v s="$SECONDS_PER_PHASE" 'BEGIN {printf "%.1f %.0f\n", r / (s + 1), w / s}'
}

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); $CONFIG build; ${SECONDS_PER_PHASE} s per phase"
sleep 1  # let the start-up records be written
read -r none_r none_b < <(measure)
exec 3<>"/dev/tcp/127.0.0.1/$PORT"   # one idle kept-alive control connection
read -r held_r held_b < <(measure)
exec 3>&-
echo "idle, no client:                     $none_r records/s, $none_b bytes written/s"
echo "idle, one idle control connection:   $held_r records/s, $held_b bytes written/s"
awk -v a="$none_b" -v b="$held_b" 'BEGIN { if (a > 0) printf "ratio (connection / none), bytes: %.0fx\n", b / a; else print "ratio: no bytes at all without a client" }'
