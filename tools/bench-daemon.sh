#!/usr/bin/env bash
# Benchmarks for polltraced, driven by polltrace-load over 127.0.0.1.
#
#   tools/bench-daemon.sh [all|flood|storm|hold|busy|side-by-side]
#
# Environment: DURATION (seconds per run, default 30), RUNS (default 3),
# PORT (control port, default 18086), TRACE_DIR (default a temp dir, deleted),
# TRACE_MODE (lossless or drop: the tracing-on side of `flood`, default lossless),
# POLLERS (the daemon's --pollers in `flood`, default 2), WRITER_PRIORITY (the
# traced daemon's --writer-priority in `flood`, normal, idle or adaptive; unset,
# the daemon's default), HOGS (`busy`: CPU-bound programs beside the flood,
# default 2).
#
# Prints the machine, each command, each run's result line, and the median of
# the runs. `flood` measures short TCP connections/s with tracing on and off,
# interleaved run by run in ABBA order, and prints the on/off ratio of the
# medians, of each back-to-back pair (with the pairs' mean and its 95% confidence
# interval), and of the daemon's CPU per connection.
# `busy` runs the same flood beside HOGS CPU-bound shell loops (each bounded by
# `timeout`), untraced and traced with each writer priority, to show what a
# priority costs when other programs keep every core busy.
# `side-by-side` runs a traced and an untraced daemon at the same time, each with
# its own load generator, each side pinned to a core of its own (taskset), the
# cores swapped every run: both sides see the same host at the same moment, so
# the host's drift between runs, larger here than what tracing costs, cancels.
# In `side-by-side`, SCRAPE_INTERVAL (seconds; unset, no scraping) has a scraper
# fetch the traced side's GET /metrics that often for the whole run, pinned to
# that side's core (so the scraper's own CPU is charged to it too: the cost it
# shows is an upper bound), and BASELINE_TRACE_MODE (default off) is the other
# side's --trace-mode. Scraping's cost is then, for example:
#   SCRAPE_INTERVAL=1 BASELINE_TRACE_MODE=lossless tools/bench-daemon.sh side-by-side
# which compares a traced daemon scraped every second with one traced the same
# way and never scraped. BASELINE_BIN (default this tree's release polltraced) is
# the other side's binary, to compare two builds (say, main's) side by side.
set -euo pipefail

cd "$(dirname "$0")/.."
MODE="${1:-all}"
DURATION="${DURATION:-30}"
RUNS="${RUNS:-3}"
PORT="${PORT:-18086}"
TRACE_DIR="${TRACE_DIR:-$(mktemp -d /tmp/polltraced-bench.XXXXXX)}"
TRACE_MODE="${TRACE_MODE:-lossless}"
POLLERS="${POLLERS:-2}"
WRITER_PRIORITY="${WRITER_PRIORITY:-}"
case "$WRITER_PRIORITY" in ""|idle|normal|adaptive) ;; *) echo "WRITER_PRIORITY must be normal, idle or adaptive" >&2; exit 2 ;; esac
HOGS="${HOGS:-2}"
case "$HOGS" in ""|*[!0-9]*) echo "HOGS must be a number" >&2; exit 2 ;; esac
case "$TRACE_MODE" in lossless|drop) ;; *) echo "TRACE_MODE must be lossless or drop" >&2; exit 2 ;; esac
SCRAPE_INTERVAL="${SCRAPE_INTERVAL:-}"
case "$SCRAPE_INTERVAL" in "") ;; *[!0-9.]*|.|*.*.*) echo "SCRAPE_INTERVAL must be a number of seconds" >&2; exit 2 ;; esac
BASELINE_TRACE_MODE="${BASELINE_TRACE_MODE:-off}"
BASELINE_BIN="${BASELINE_BIN:-}"
[ -z "$BASELINE_BIN" ] || [ -x "$BASELINE_BIN" ] || { echo "BASELINE_BIN $BASELINE_BIN is not an executable" >&2; exit 2; }
case "$BASELINE_TRACE_MODE" in lossless|drop|off) ;; *) echo "BASELINE_TRACE_MODE must be lossless, drop or off" >&2; exit 2 ;; esac
BIN=.build/release

swift build -c release --product polltraced >/dev/null
swift build -c release --product polltrace-load >/dev/null

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "nofile hard limit: $(ulimit -Hn); duration ${DURATION}s per run, ${RUNS} runs"
other_load() {
    echo "other load: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average); busiest processes:"
    ps -eo pcpu,comm --sort=-pcpu | sed -n '2,6p' | sed 's/^/    /'
}
other_load

DAEMON_PID=""
start_daemon() {
    ulimit -n "$(ulimit -Hn)"
    echo "  daemon: $BIN/polltraced --port $PORT --trace-dir $TRACE_DIR $*"
    "$BIN/polltraced" --port "$PORT" --trace-dir "$TRACE_DIR" --log-level warning "$@" &
    DAEMON_PID=$!
    wait_for_port "$PORT"
}

# wait_for_port <port>: returns once a daemon accepts on <port>; exits after 5 s.
wait_for_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.05
    done
    echo "polltraced did not start on port $1" >&2
    exit 1
}
stop_daemon() {
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || { echo "polltraced exited $?" >&2; exit 1; }
    rm -f "$TRACE_DIR"/*.sqlite*
}

# run_load <field> <load args...>: runs the load generator, shows the command and
# its result line on stderr, keeps the line (for `result_field`), and prints the
# value of <field> from it on stdout. The line gains load_cpu_s, the CPU the load
# generator used (user + system), from `times`, which must run in the subshell
# itself rather than in a pipeline's own subshell.
run_load() {
    local field="$1"; shift
    echo "  load:   $BIN/polltrace-load $* --control-port $PORT" >&2
    local line
    line=$(ulimit -n "$(ulimit -Hn)"; "$BIN/polltrace-load" "$@" --control-port "$PORT" | grep '^result '
           times > "$TRACE_DIR/times")
    line="$line$(tail -1 "$TRACE_DIR/times" | awk '{ n = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); n += p[1] * 60 + p[2] } printf " load_cpu_s=%.2f", n }')"
    echo "  $line" >&2
    echo "$line" > "$TRACE_DIR/result"
    result_field "$field"
}

# result_field <field>: a field of the last run_load's result line.
result_field() { field_of "$TRACE_DIR/result" "$1"; }

# field_of <file> <field>: a field of the result line in <file>.
field_of() { tr ' ' '\n' < "$1" | sed -n "s/^$2=//p"; }

# per_connection <seconds> <connections>: microseconds per connection, one decimal.
per_connection() { awk -v s="$1" -v n="$2" 'BEGIN { printf "%.1f", s * 1e6 / n }'; }

# The machine's busy and stolen CPU seconds so far, "busy steal" (/proc/stat:
# user + nice + system + irq + softirq; steal is time the hypervisor gave another
# guest). Busy time per connection covers the load generator and the kernel's
# loopback TCP work too, which share the cores with the daemon: on a saturated
# machine throughput is about cores / busy time per connection, so this is the
# steadier view of what tracing costs, and steal shows host interference.
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f %.2f", ($2 + $3 + $4 + $7 + $8) / hz, $9 / hz }' /proc/stat; }

# CPU seconds a daemon used so far (user + system, all threads); <pid> defaults to DAEMON_PID.
daemon_cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/${1:-$DAEMON_PID}/stat"; }

# The trace statistics of /api/stats, one "name value" line per field the flood
# reports (writer_cpu_ms, records_dropped, gaps, writer_promotions); nothing when
# tracing is off.
# Plain bash, so the script needs no HTTP client.
trace_stats() {
    local reply
    reply=$(exec 3<>"/dev/tcp/127.0.0.1/$PORT" \
        && printf 'GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 \
        && timeout 5 cat <&3) || return 0
    for field in writer_cpu_ms records_dropped gaps writer_promotions; do
        echo "$reply" | grep -o "\"$field\" *: *[0-9.]*" | sed "s/\"$field\" *: */$field /" || true
    done
}

# mean_interval: the mean of the numbers on stdin and a 95% confidence interval
# for it (Student's t, two-sided), so that a set says how far its ratio can be
# trusted: a goal inside the interval is neither met nor missed by that set.
mean_interval() {
    awk 'BEGIN { split("12.706 4.303 3.182 2.776 2.571 2.447 2.365 2.306 2.262 2.228 2.201 2.179 2.160 2.145 2.131 2.120 2.110 2.101 2.093 2.086", t, " ") }
         { v[NR] = $1; sum += $1 }
         END {
             if (NR < 2) { printf "%.3f (one value: no interval)", sum; exit }
             mean = sum / NR
             for (i = 1; i <= NR; i++) ss += (v[i] - mean) ^ 2
             q = (NR - 1 <= 20) ? t[NR - 1] : 1.96
             half = q * sqrt(ss / (NR - 1)) / sqrt(NR)
             printf "%.3f, [%.3f, %.3f]", mean, mean - half, mean + half
         }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

bench_flood() {
    echo; echo "== short TCP connections/s (flood), $POLLERS pollers, tracing on ($TRACE_MODE, writer priority ${WRITER_PRIORITY:-the default}) vs off, interleaved"
    local on=() off=() cpu_on=() cpu_off=() machine_on=() machine_off=() load_on=() load_off=() rate cpu order
    for run in $(seq 1 "$RUNS"); do
        # ABBA order (on-off, off-on, ...): a run's position in its pair (first,
        # right after the previous daemon's files were deleted, or second) and any
        # drift across the set fall on both sides equally instead of on one.
        if [ $((run % 2)) -eq 1 ]; then order="$TRACE_MODE off"; else order="off $TRACE_MODE"; fi
        for mode in $order; do
            echo " run $run, --trace-mode $mode:"
            start_daemon --pollers "$POLLERS" --trace-mode "$mode" ${WRITER_PRIORITY:+--writer-priority "$WRITER_PRIORITY"} --max-connections 4096
            local before after
            before=$(machine_cpu)
            # --count far above what DURATION allows (the load generator's default is
            # 1,000,000, which a fast run reaches before 30 s), so the run lasts DURATION.
            rate=$(run_load rate flood --workers 16 --services 4 --duration "$DURATION" --count 100000000)
            local ops; ops=$(result_field ops)
            after=$(machine_cpu)
            cpu=$(daemon_cpu)
            local machine steal
            machine=$(per_connection "$(awk -v b="${before% *}" -v a="${after% *}" 'BEGIN { print a - b }')" "$ops")
            steal=$(awk -v b="${before#* }" -v a="${after#* }" 'BEGIN { printf "%.2f", a - b }')
            # Daemon CPU per connection: steadier than the rate on a shared machine.
            local per; per=$(per_connection "$cpu" "$ops")
            local stats writer=""; stats=$(trace_stats)
            if [ -n "$stats" ]; then
                writer=$(echo "$stats" | awk -v n="$ops" '
                    $1 == "writer_cpu_ms" { w = $2 } $1 == "records_dropped" { x = $2 } $1 == "gaps" { g = $2 }
                    $1 == "writer_promotions" { p = $2 }
                    END { printf ", of which the trace writer thread %.1f; records dropped %d in %d gaps; writer promoted %d times", w * 1e3 / n, x, g, p }')
            fi
            local load; load=$(per_connection "$(result_field load_cpu_s)" "$ops")
            echo "  daemon CPU ${cpu}s, ${per} us per connection${writer}; load generator ${load} us per connection; machine busy ${machine} us per connection, ${steal}s stolen"
            stop_daemon
            if [ "$mode" = off ]; then
                off+=("$rate"); cpu_off+=("$per"); machine_off+=("$machine"); load_off+=("$load")
            else
                on+=("$rate"); cpu_on+=("$per"); machine_on+=("$machine"); load_on+=("$load")
            fi
        done
    done
    local mon moff con coff
    mon=$(printf '%s\n' "${on[@]}" | median); moff=$(printf '%s\n' "${off[@]}" | median)
    con=$(printf '%s\n' "${cpu_on[@]}" | median); coff=$(printf '%s\n' "${cpu_off[@]}" | median)
    echo "flood tracing on:  runs ${on[*]} -> median $mon connections/s; daemon CPU per connection ${cpu_on[*]} -> median $con us"
    echo "flood tracing off: runs ${off[*]} -> median $moff connections/s; daemon CPU per connection ${cpu_off[*]} -> median $coff us (baseline)"
    echo "tracing on/off throughput ratio: $(awk -v a="$mon" -v b="$moff" 'BEGIN { printf "%.3f", a / b }') (goal >= 0.95)"
    # The same from each run's own pair (the on and off runs back to back): less
    # sensitive to drift across the set, more to a single noisy run.
    local pairs=() k
    for k in "${!on[@]}"; do pairs+=("$(awk -v a="${on[$k]}" -v b="${off[$k]}" 'BEGIN { printf "%.3f", a / b }')"); done
    echo "tracing on/off throughput ratio per run pair: ${pairs[*]} -> median $(printf '%s\n' "${pairs[@]}" | median)"
    echo "tracing on/off throughput ratio per run pair, mean and its 95% confidence interval: $(printf '%s\n' "${pairs[@]}" | mean_interval)"
    echo "tracing on/off daemon CPU per connection: $(awk -v a="$con" -v b="$coff" 'BEGIN { printf "%.3f", a / b }')"
    local mmon mmoff
    mmon=$(printf '%s\n' "${machine_on[@]}" | median); mmoff=$(printf '%s\n' "${machine_off[@]}" | median)
    echo "machine busy CPU per connection: on ${machine_on[*]} -> median $mmon us; off ${machine_off[*]} -> median $mmoff us"
    echo "load generator CPU per connection: on ${load_on[*]} -> median $(printf '%s\n' "${load_on[@]}" | median) us; off ${load_off[*]} -> median $(printf '%s\n' "${load_off[@]}" | median) us"
    echo "throughput ratio implied by machine CPU per connection (off/on): $(awk -v a="$mmon" -v b="$mmoff" 'BEGIN { printf "%.3f", b / a }')"
}

bench_storm() {
    echo; echo "== service open+close/s (storm), tracing on (lossless)"
    local rates=()
    for run in $(seq 1 "$RUNS"); do
        start_daemon --pollers 1 --trace-mode lossless
        rates+=("$(run_load rate storm --workers 4 --duration "$DURATION")")
        stop_daemon
    done
    echo "storm: runs ${rates[*]} -> median $(printf '%s\n' "${rates[@]}" | median) open+close/s (goal >= 1000)"
}

bench_hold() {
    echo; echo "== peak concurrent connections held for the whole run, tracing on (lossless)"
    local held=()
    for run in $(seq 1 "$RUNS"); do
        start_daemon --pollers 2 --trace-mode lossless --max-connections 12000
        held+=("$(run_load daemon_current_connections_peak hold --count 10000 --hold "$DURATION" --duration $((DURATION + 60)))")
        stop_daemon
    done
    echo "hold: runs ${held[*]} -> median $(printf '%s\n' "${held[@]}" | median) connections held (goal 10000)"
}

# side_by_side_run <on core> <off core>: one run of `side-by-side`; prints
# "<on rate> <off rate> <on daemon us/conn> <off daemon us/conn>".
SIDE_PIDS=()
side_by_side_run() {
    # Index 0 is the traced side, 1 the untraced one.
    local cores=("$1" "$2") ports=("$PORT" $((PORT + 1))) modes=("$TRACE_MODE" "$BASELINE_TRACE_MODE") sides=(on off) k
    local binaries=("$BIN/polltraced" "${BASELINE_BIN:-$BIN/polltraced}")
    SIDE_PIDS=()
    for k in 0 1; do
        mkdir -p "$TRACE_DIR/${sides[$k]}"
        echo "  ${sides[$k]}, core ${cores[$k]}: taskset -c ${cores[$k]} ${binaries[$k]} --port ${ports[$k]} --trace-dir $TRACE_DIR/${sides[$k]} --pollers $POLLERS --trace-mode ${modes[$k]}" >&2
        (ulimit -n "$(ulimit -Hn)"; exec taskset -c "${cores[$k]}" "${binaries[$k]}" --port "${ports[$k]}" \
            --trace-dir "$TRACE_DIR/${sides[$k]}" --log-level warning --pollers "$POLLERS" --trace-mode "${modes[$k]}" \
            ${WRITER_PRIORITY:+--writer-priority "$WRITER_PRIORITY"} --max-connections 4096) &
        SIDE_PIDS+=($!)
        wait_for_port "${ports[$k]}"
    done
    local loads=() scraper=""
    if [ -n "$SCRAPE_INTERVAL" ]; then
        (exec taskset -c "${cores[0]}" bash -c "$(declare -f scrape_loop); scrape_loop ${ports[0]} $SCRAPE_INTERVAL $DURATION" \
            > "$TRACE_DIR/scrapes") &
        scraper=$!
    fi
    for k in 0 1; do
        (ulimit -n "$(ulimit -Hn)"; exec taskset -c "${cores[$k]}" "$BIN/polltrace-load" flood --workers 16 --services 4 \
            --duration "$DURATION" --count 100000000 --control-port "${ports[$k]}" > "$TRACE_DIR/${sides[$k]}.result") &
        loads+=($!)
    done
    wait "${loads[@]}"
    if [ -n "$scraper" ]; then
        wait "$scraper"
        echo "  on: $(cat "$TRACE_DIR/scrapes")" >&2
    fi
    local rates=() cpus=() file
    for k in 0 1; do
        file="$TRACE_DIR/${sides[$k]}.result"
        grep '^result ' "$file" | sed "s/^/  ${sides[$k]}: /" >&2
        rates+=("$(field_of "$file" rate)")
        cpus+=("$(per_connection "$(daemon_cpu "${SIDE_PIDS[$k]}")" "$(field_of "$file" ops)")")
    done
    kill -TERM "${SIDE_PIDS[@]}"
    wait "${SIDE_PIDS[@]}" || { echo "polltraced exited $?" >&2; exit 1; }
    SIDE_PIDS=()
    rm -rf "$TRACE_DIR/on" "$TRACE_DIR/off"
    echo "${rates[0]} ${rates[1]} ${cpus[0]} ${cpus[1]}"
}

# scrape_loop <port> <interval> <seconds>: GET /metrics every <interval> seconds
# for <seconds>; prints how many scrapes answered and their mean size. Plain bash.
scrape_loop() {
    local end=$((SECONDS + ${3%.*})) done=0 bytes=0 reply
    while [ "$SECONDS" -lt "$end" ]; do
        reply=$(exec 3<>"/dev/tcp/127.0.0.1/$1" \
            && printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n' >&3 \
            && timeout 5 cat <&3) || reply=""
        case "$reply" in "HTTP/1.1 200"*) done=$((done + 1)); bytes=$((bytes + ${#reply})) ;; esac
        sleep "$2"
    done
    echo "scrapes answered $done, $((bytes / (done > 0 ? done : 1))) bytes each"
}

bench_side_by_side() {
    local sides="tracing on ($TRACE_MODE) and off"
    [ "$BASELINE_TRACE_MODE" = off ] || sides="tracing $TRACE_MODE on both sides (\"on\" and \"off\" name the sides)"
    [ -z "$SCRAPE_INTERVAL" ] || sides="$sides, the on side scraped (GET /metrics) every ${SCRAPE_INTERVAL}s"
    [ -z "$BASELINE_BIN" ] || sides="$sides, the off side running $BASELINE_BIN"
    echo; echo "== short TCP connections/s (flood), $sides, at the same time, one core each, $POLLERS pollers per daemon"
    if [ "$(nproc)" -lt 2 ]; then echo "side-by-side needs two cores; this machine has $(nproc)" >&2; exit 2; fi
    command -v taskset >/dev/null || { echo "side-by-side needs taskset (util-linux)" >&2; exit 2; }
    local runs=$(( (RUNS + 1) / 2 * 2 )) run ratios=() swapped=() line on off con coff previous=""
    [ "$runs" = "$RUNS" ] || echo "RUNS rounded up to $runs: the cores swap every run, and a swap pair is the unit"
    for run in $(seq 1 "$runs"); do
        # Odd runs: traced on core 0; even runs: traced on core 1. The two cores of
        # this VM differ by 2-3% in what they get done, so a run alone is biased by
        # which side had the faster core; a swap pair is not.
        local on_core=$(( (run + 1) % 2 )) off_core=$(( run % 2 ))
        echo " run $run: tracing on core $on_core, off core $off_core"
        line=$(side_by_side_run "$on_core" "$off_core")
        read -r on off con coff <<< "$line"
        local ratio; ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.4f", a / b }')
        echo "  on/off $ratio; daemon CPU per connection on $con us, off $coff us"
        ratios+=("$ratio")
        if [ -n "$previous" ]; then
            swapped+=("$(awk -v a="$previous" -v b="$ratio" 'BEGIN { printf "%.4f", sqrt(a * b) }')"); previous=""
        else
            previous=$ratio
        fi
    done
    echo "side by side, tracing on/off throughput ratio per run: ${ratios[*]} -> median $(printf '%s\n' "${ratios[@]}" | median)"
    echo "side by side, per swap pair (geometric mean of its two runs): ${swapped[*]}"
    local goal="(goal >= 0.95)"
    [ "$BASELINE_TRACE_MODE" = off ] || goal="(both sides traced: 1.000 inside the interval means no measurable difference)"
    echo "side by side, tracing on/off throughput ratio, mean of the swap pairs and its 95% confidence interval: $(printf '%s\n' "${swapped[@]}" | mean_interval) $goal"
}

HOG_PIDS=()
bench_busy() {
    echo; echo "== short TCP connections/s (flood) beside $HOGS CPU-bound programs, $POLLERS pollers, untraced and traced ($TRACE_MODE) per writer priority"
    local setups=(off normal idle adaptive) results=() run k setup rate
    declare -A rates
    for run in $(seq 1 "$RUNS"); do
        # Each run starts one setup later, so no setup always runs first.
        for k in 0 1 2 3; do
            setup=${setups[$(( (k + run - 1) % 4 ))]}
            echo " run $run, $setup:"
            for _ in $(seq 1 "$HOGS"); do
                timeout $((DURATION + 20)) sh -c 'while :; do :; done' &
                HOG_PIDS+=($!)
            done
            if [ "$setup" = off ]; then
                start_daemon --pollers "$POLLERS" --trace-mode off --max-connections 4096
            else
                start_daemon --pollers "$POLLERS" --trace-mode "$TRACE_MODE" --writer-priority "$setup" --max-connections 4096
            fi
            rate=$(run_load rate flood --workers 16 --services 4 --duration "$DURATION" --count 100000000)
            local stats; stats=$(trace_stats)
            if [ -n "$stats" ]; then
                echo "$stats" | awk '{ v[$1] = $2 } END { printf "  records dropped %d in %d gaps; writer promoted %d times\n", v["records_dropped"], v["gaps"], v["writer_promotions"] }'
            fi
            stop_daemon
            kill "${HOG_PIDS[@]}" 2>/dev/null || true
            wait "${HOG_PIDS[@]}" 2>/dev/null || true
            HOG_PIDS=()
            rates[$setup]="${rates[$setup]:-} $rate"
        done
    done
    local off; off=$(printf '%s\n' ${rates[off]} | median)
    for setup in "${setups[@]}"; do
        local m; m=$(printf '%s\n' ${rates[$setup]} | median)
        echo "busy, $setup: runs${rates[$setup]} -> median $m connections/s, $(awk -v a="$m" -v b="$off" 'BEGIN { printf "%.3f", a / b }') of untraced"
    done
}

trap 'other_load; kill -TERM "$DAEMON_PID" "${HOG_PIDS[@]}" "${SIDE_PIDS[@]}" 2>/dev/null || true; rm -rf "$TRACE_DIR"' EXIT

case "$MODE" in
    flood) bench_flood ;;
    storm) bench_storm ;;
    hold) bench_hold ;;
    busy) bench_busy ;;
    side-by-side) bench_side_by_side ;;
    all) bench_storm; bench_hold; bench_flood; bench_side_by_side ;;
    *) echo "usage: $0 [all|flood|storm|hold|busy|side-by-side]" >&2; exit 2 ;;
esac
