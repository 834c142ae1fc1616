#!/usr/bin/env bash
# Soak test for polltraced: seed churn plus a connection flood, with rotation by
# size and by API request, for a given time. Samples the daemon every few seconds
# to a CSV, analyzes every trace the daemon finishes while it runs (before
# retention can delete it), and at the end checks the daemon exits 0 and every
# trace still on disk analyzes.
#
#   tools/soak.sh DURATION          DURATION in seconds, or with a suffix: 90s, 30m, 1h
#
# Environment: OUT (output directory, default a new temp dir; kept), PORT (control
# port, default 18186), CONFIG (debug or release build, default release),
# INTERVAL (seconds between samples, default 5), ROTATE_MIB (default 32),
# RETAIN (finished traces kept, default 4), FLOOD_WORKERS (default 1).
#
# Writes into OUT: samples.csv (time, fds, RSS, CPU, trace bytes, daemon counters),
# load.log (each load segment's result line), analyze.csv (one line per finished
# trace: file, bytes, exit code, seconds), daemon.log, summary.txt.
# Exit 0 when the daemon exited 0 and every analyzed trace exited 0 or 1
# (findings are the daemon's business; exit 2 is an unreadable trace).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: tools/soak.sh DURATION   (seconds, or 90s, 30m, 1h)" >&2; exit 2; }
[ $# -eq 1 ] || usage
case "$1" in
    *h) DURATION=$(( ${1%h} * 3600 )) ;;
    *m) DURATION=$(( ${1%m} * 60 )) ;;
    *s) DURATION=${1%s} ;;
    *) DURATION=$1 ;;
esac
case "$DURATION" in ''|*[!0-9]*) usage ;; esac
[ "$DURATION" -gt 0 ] || usage

OUT="${OUT:-$(mktemp -d /tmp/polltrace-soak.XXXXXX)}"
PORT="${PORT:-18186}"
CONFIG="${CONFIG:-release}"
INTERVAL="${INTERVAL:-5}"
ROTATE_MIB="${ROTATE_MIB:-32}"
RETAIN="${RETAIN:-4}"
FLOOD_WORKERS="${FLOOD_WORKERS:-1}"
case "$CONFIG" in debug|release) ;; *) echo "CONFIG must be debug or release" >&2; exit 2 ;; esac

swift build -c "$CONFIG" --product polltraced >/dev/null
swift build -c "$CONFIG" --product polltrace-load >/dev/null
swift build -c "$CONFIG" --product polltrace >/dev/null
BIN=".build/$CONFIG"

mkdir -p "$OUT/traces"
echo "soak: ${DURATION}s, output in $OUT, commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown), $CONFIG build"
{
    echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
    echo "started: $(date -u +%FT%TZ), duration ${DURATION}s, $CONFIG build"
    echo "daemon: --rotate-mib $ROTATE_MIB --retain $RETAIN --trace-mode lossless; load: seed + flood ($FLOOD_WORKERS workers) + rotate request every 30 s"
} >"$OUT/summary.txt"

ulimit -n "$(ulimit -Hn)"
"$BIN/polltraced" --port "$PORT" --trace-dir "$OUT/traces" --rotate-mib "$ROTATE_MIB" --retain "$RETAIN" \
    --log-level notice 2>"$OUT/daemon.log" &
DAEMON=$!
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    kill -TERM "$DAEMON" 2>/dev/null || true
}
trap cleanup EXIT

for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
    kill -0 "$DAEMON" 2>/dev/null || { echo "polltraced exited at start:" >&2; cat "$OUT/daemon.log" >&2; exit 1; }
    sleep 0.05
done

START=$(date +%s)
END=$((START + DURATION))
api() { curl -s --max-time 5 -X "$1" "http://127.0.0.1:$PORT$2"; }

# Load in segments (the load generator caps one run at an hour), each bounded in time.
run_load() {
    local mode=$1; shift
    while :; do
        local left=$((END - $(date +%s)))
        [ "$left" -gt 1 ] || break
        local seg=$((left < 300 ? left : 300))
        "$BIN/polltrace-load" "$mode" --control-port "$PORT" --duration "$seg" "$@" 2>&1 \
            | sed "s/^/$(date -u +%TZ) $mode: /" >>"$OUT/load.log" || true
    done
}
run_load seed --workers 2 & PIDS+=($!)
run_load flood --workers "$FLOOD_WORKERS" & PIDS+=($!)
( while [ "$(date +%s)" -lt "$END" ]; do sleep 30; api POST /api/trace/rotate >>"$OUT/rotate.log" 2>&1 || echo "rotate request failed" >>"$OUT/rotate.log"; echo >>"$OUT/rotate.log"; done ) &
PIDS+=($!)

# Analyze each trace once the daemon has moved on to a newer one.
analyze_one() {
    local f=$1 t0 rc
    t0=$(date +%s.%N)
    set +e; "$BIN/polltrace" analyze "$f" >/dev/null 2>>"$OUT/analyze.err"; rc=$?; set -e
    echo "$(basename "$f"),$(stat -c %s "$f" 2>/dev/null || echo 0),$rc,$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')" >>"$OUT/analyze.csv"
}
echo "file,bytes,exit,seconds" >"$OUT/analyze.csv"
(
    declare -A started_on
    while [ "$(date +%s)" -lt "$END" ]; do
        mapfile -t files < <(ls -1 "$OUT/traces"/*.sqlite 2>/dev/null | sort)
        # The newest file is the one being written; an older one is finished once
        # its -wal is gone (a rotated file is closed on a background thread, and
        # opening it before that ends gives "database is locked").
        for ((i = 0; i + 1 < ${#files[@]}; i++)); do
            f=${files[$i]}
            [ -n "${started_on[$f]:-}" ] && continue
            [ -e "$f-wal" ] && continue
            started_on[$f]=1
            [ -e "$f" ] && analyze_one "$f"
        done
        sleep "$INTERVAL"
    done
) & PIDS+=($!)

# From here on a failed sample must not end the soak (set -e would: `du` fails when
# retention deletes a file under it, `ls` when the daemon is gone).
set +e
TICK=$(getconf CLK_TCK)
echo "elapsed_s,fds,rss_kib,threads,cpu_s,trace_dir_bytes,traces,connections,records_written,records_dropped,control_errors,last_error" >"$OUT/samples.csv"
while [ "$(date +%s)" -lt "$END" ] && kill -0 "$DAEMON" 2>/dev/null; do
    fds=$(ls /proc/$DAEMON/fd 2>/dev/null | wc -l)
    rss=$(awk '/^VmRSS/ {print $2}' /proc/$DAEMON/status 2>/dev/null || echo 0)
    threads=$(awk '/^Threads/ {print $2}' /proc/$DAEMON/status 2>/dev/null || echo 0)
    cpu=$(awk -v t="$TICK" '{printf "%.2f", ($14 + $15) / t}' /proc/$DAEMON/stat 2>/dev/null || echo 0)
    bytes=$(du -sb "$OUT/traces" 2>/dev/null | cut -f1)
    traces=$(ls -1 "$OUT/traces"/*.sqlite 2>/dev/null | wc -l)
    stats=$(api GET /api/stats || echo '{}')
    fields=$(jq -r '[.connections.current // "", .trace.records_written // "", .trace.records_dropped // "",
                     .control.errors // "", (.trace.last_error // "" | tostring | gsub(","; ";"))] | @csv' <<<"$stats" 2>/dev/null || echo ',,,,')
    echo "$(( $(date +%s) - START )),$fds,$rss,$threads,$cpu,$bytes,$traces,$fields" >>"$OUT/samples.csv"
    sleep "$INTERVAL"
done

died=no
kill -0 "$DAEMON" 2>/dev/null || died=yes
if [ "$died" = yes ]; then
    # The daemon is gone before the end: stop the load now rather than let it run on.
    for pid in "${PIDS[@]}"; do kill $(ps -o pid= --ppid "$pid") "$pid" 2>/dev/null; done
fi
for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
PIDS=()
alive=yes; kill -0 "$DAEMON" 2>/dev/null || alive=no
kill -TERM "$DAEMON" 2>/dev/null || true
set +e; wait "$DAEMON"; daemon_rc=$?; set -e
trap - EXIT

# Every trace still on disk, the last one included, must analyze.
declare -A seen
while IFS=, read -r name _; do seen[$name]=1; done < <(tail -n +2 "$OUT/analyze.csv")
for f in "$OUT/traces"/*.sqlite; do
    [ -e "$f" ] || continue
    [ -n "${seen[$(basename "$f")]:-}" ] || analyze_one "$f"
done

bad=$(awk -F, 'NR > 1 && $3 != 0 && $3 != 1' "$OUT/analyze.csv" | wc -l)
analyzed=$(( $(wc -l <"$OUT/analyze.csv") - 1 ))
load_errors=$(grep -o 'errors=[0-9]*' "$OUT/load.log" | cut -d= -f2 | awk '{s += $1} END {print s + 0}')
half=$(( $(wc -l <"$OUT/samples.csv") / 2 ))
{
    echo "daemon alive at the end: $alive; exit code after SIGTERM: $daemon_rc"
    echo "traces analyzed: $analyzed, of which unreadable (exit 2 or crash): $bad"
    echo "load segments: $(wc -l <"$OUT/load.log") result lines, load errors summed: $load_errors"
    awk -F, -v half="$half" 'NR == 2 {f0 = $2; r0 = $3}
        NR > 1 { if (NR - 1 > half) { if (fmin == "" || $2 < fmin) fmin = $2; if ($2 > fmax) fmax = $2;
                                       if (rmin == "" || $3 < rmin) rmin = $3; if ($3 > rmax) rmax = $3 }
                 last = $0; cpu = $5; n++ }
        END { printf "samples: %d; fds first %s, second half %s..%s; RSS KiB first %s, second half %s..%s; daemon CPU %s s\n",
                     n, f0, fmin, fmax, r0, rmin, rmax, cpu }' "$OUT/samples.csv"
    echo "daemon log lines at warning or above: $(grep -cE 'warning|error|critical' "$OUT/daemon.log" || true)"
} | tee -a "$OUT/summary.txt"
[ "$daemon_rc" -eq 0 ] && [ "$bad" -eq 0 ] && [ "$alive" = yes ]
