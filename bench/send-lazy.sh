#!/usr/bin/env bash
# bench/send-lazy.sh: the downtime of a process moved with `telefork send` to a `telefork serve` on this
# machine (loopback), restored eagerly and lazily (serve --lazy): from its last tick before the freeze to
# its first tick in the copy.
#
#   mvn -B -pl agent -am -DskipTests package     # builds agent/target/telefork.jar
#   bench/send-lazy.sh                           # Markdown table on stdout, also saved in bench/out/
#
# The target is `holder MIB 1 tick` (bench/holder.c): MIB MiB of pseudo-random anonymous memory, then a
# counter in its first word, incremented and printed with the time ("tick NS COUNT") every millisecond,
# its stdout a file that the copy goes on writing. Per mode, RUNS runs (default 5), each with a fresh
# target: `serve --once -v [--lazy]`, then `send -v PID 127.0.0.1:PORT`; once the copy has ticked for a
# while it is killed. Columns (medians):
#   downtime ms   the longest gap between two ticks: the last one of the original, the first of the copy
#   frozen ms     the sender's "frozen": the original is stopped for its whole dump (and lazily, until
#                 the copy has every page)
#   running ms    serve's time from the connection to the copy's first instruction (lazily, pages still
#                 stream in then); eagerly, the whole restore
#   send s        wall time of the send command, JVM start included
# The counter is checked to go on from where it was (no tick lost or repeated).
# Environment: RUNS (5), MIB (1024), MODES ("eager lazy"), JAR (agent/target/telefork.jar), JAVA (java).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
MIB=${MIB:-1024}
MODES=${MODES-"eager lazy"}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

[[ -f $JAR ]] || { echo "bench: $JAR is missing: mvn -B -pl agent -am -DskipTests package" >&2; exit 1; }
WORK=$(mktemp -d /tmp/telefork-send.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]+"${PIDS[@]}"}"; do kill -9 "$p" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$WORK/holder" "$ROOT/bench/holder.c"

# only 0, 1 and 2 in the target: telefork refuses descriptors it cannot restore
start_holder() {
    (
        for f in /proc/$BASHPID/fd/*; do
            n=${f##*/}
            ((n > 2)) && eval "exec $n>&-"
        done
        exec "$WORK/holder" "$MIB" 1 tick < /dev/null > "$1" 2>&1
    ) &
    HOLDER=$!
    PIDS+=("$HOLDER")
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# run_once MODE: one migration; appends to downtime, frozen, running and send_s.
run_once() {
    local mode=$1 ticks=$WORK/ticks.txt port lazy=() i t0 t1 serve
    [[ $mode == lazy ]] && lazy=(--lazy)
    start_holder "$ticks"
    for ((i = 0; i < 600; i++)); do grep -q '^tick' "$ticks" 2>/dev/null && break; sleep 0.1; done
    port=$(free_port)
    "$TELEFORK" serve --once -v "${lazy[@]+"${lazy[@]}"}" --listen "127.0.0.1:$port" \
        < /dev/null > "$WORK/serve.out" 2> "$WORK/serve.err" &
    serve=$!
    PIDS+=("$serve")
    for ((i = 0; i < 300; i++)); do grep -q listening "$WORK/serve.err" && break; sleep 0.1; done
    sleep 0.5
    t0=$(now)
    if ! "$TELEFORK" send -v "$HOLDER" "127.0.0.1:$port" 2> "$WORK/send.err"; then
        echo "bench: send failed:" >&2; cat "$WORK/send.err" "$WORK/serve.err" >&2; exit 1
    fi
    t1=$(now)
    send_s+=("$(elapsed "$t0" "$t1")")
    sleep 1   # the copy ticks on
    local copy
    copy=$(pgrep -P "$serve" holder || true)
    [[ -n $copy ]] || { echo "bench: no copy under serve:" >&2; cat "$WORK/serve.err" >&2; exit 1; }
    kill -9 "$copy"
    wait "$serve" 2>/dev/null || true
    local gap
    gap=$(awk '$1 == "tick" { if (n && $3 != last + 1) bad = 1; if (n && $2 - t > max) max = $2 - t; t = $2; last = $3; n++ }
               END { if (bad || n < 100) print "bad"; else printf "%.1f", max / 1e6 }' "$ticks")
    [[ $gap != bad ]] || { echo "bench: the counter did not go on where it was (or too few ticks): $ticks" >&2; cp "$ticks" /tmp/send-lazy-ticks.txt; exit 1; }
    downtime+=("$gap")
    local v
    v=$(engine_ms "$WORK/send.err" frozen); [[ -n $v ]] && frozen+=("$v")
    v=$(grep -oE 'as [0-9]+ \(([0-9.]+) ms\)' "$WORK/serve.err" | grep -oE '[0-9.]+ ms' | grep -oE '[0-9.]+' | head -n1 || true)
    [[ -n $v ]] && running+=("$v")
    rm -f "$ticks"
}

echo "bench: $MIB MiB, $RUNS runs per mode, $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)" >&2
TABLE="| mode | downtime ms | frozen ms | running ms | send s |
|---|---|---|---|---|"
for mode in $MODES; do
    downtime=() frozen=() running=() send_s=()
    for ((r = 1; r <= RUNS; r++)); do
        echo "bench: $mode, run $r of $RUNS" >&2
        run_once "$mode"
    done
    TABLE+="
| $mode | $(md "${downtime[@]}") | $(md "${frozen[@]+"${frozen[@]}"}") | $(md "${running[@]+"${running[@]}"}") | $(md "${send_s[@]}") |"
done
mkdir -p "$ROOT/bench/out"
echo "$TABLE" | tee "$ROOT/bench/out/send-lazy-$(date +%Y%m%d-%H%M%S).md"
