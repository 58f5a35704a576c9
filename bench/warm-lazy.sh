#!/usr/bin/env bash
# bench/warm-lazy.sh: `restore --lazy` of a 2 GiB process in a warm engine, as the long-lived node agent
# restores, beside the cold JVM of a CLI restore. One process holding MIB MiB of touched random memory
# (bench/holder.c) is dumped to /dev/shm with the CLI; then one JVM (bench/WarmLazy.java, on the
# classes of agent/target/telefork.jar) restores that image lazily RUNS times through the engine's API
# (io.telefork.engine.Engine), killing each restored process before the next restore. Run 1 pays for
# the JVM's first calls (JNA, class loading, interpreted code); runs 2..RUNS are warm.
#
#   mvn -B -pl agent -DskipTests package     # builds agent/target/telefork.jar
#   bench/warm-lazy.sh                        # Markdown table on stdout, also saved in bench/out/
#
# Columns, the engine's own times from the restore's start: to the process's first instruction, to
# the last page copied in (every record checked by its CRC32C), and to every page in with the whole
# image's digest verified (when the restore returns). Cold: run 1; warm: the median of runs 2..RUNS.
#
# Environment: RUNS (8), MIB (2048), JAR (agent/target/telefork.jar), JAVA (java); STEPS=1 also logs
# the engine's step times of every run (what -vv shows) to stderr; AGENT=1 first warms the engine up as
# the node agent does when it starts (Engine.warmUp: a practice dump and 20 practice restores of a
# `sleep`), so that run 1 is the agent's first real restore.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-8}
AGENT=${AGENT:-}
MIB=${MIB:-2048}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}

source "$ROOT/bench/lib.sh"
warm_preconditions
WORK=$(mktemp -d /tmp/telefork-bench.XXXXXX)
IMG=/dev/shm/telefork-warm-$$.img
HOLDER=""
cleanup() {
    [[ -n $HOLDER ]] && kill -9 "$HOLDER" 2>/dev/null
    rm -f "$IMG"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$WORK/holder" "$ROOT/bench/holder.c"
javac -cp "$JAR" -d "$WORK" "$ROOT/bench/WarmLazy.java" "$ROOT/bench/StepLog.java"

# the target gets only descriptors 0, 1 and 2 (telefork refuses descriptors it cannot restore)
(
    for f in /proc/$BASHPID/fd/*; do
        n=${f##*/}
        ((n > 2)) && eval "exec $n>&-"
    done
    exec "$WORK/holder" "$MIB" < /dev/null > "$WORK/holder.out" 2>&1
) &
HOLDER=$!
disown "$HOLDER"
for ((i = 0; i < 600; i++)); do
    grep -q READY "$WORK/holder.out" && break
    sleep 0.1
done
grep -q READY "$WORK/holder.out" || { echo "bench: holder not ready" >&2; exit 1; }
"$TELEFORK" dump "$HOLDER" "$IMG"
HOLDER=""

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$JAVA" -cp "$JAR:$WORK" WarmLazy "$IMG" "$RUNS" ${AGENT:+agent} | tee "$WORK/runs.txt" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

col() { run_col "$WORK/runs.txt" "$1" "$2"; }
row() { echo "| $1 | $(col first_ms "$2" | median) | $(col copied_ms "$2" | median) | $(col allin_ms "$2" | median) |"; }
warm_table warm-lazy "telefork restore --lazy of $MIB MiB in one JVM (engine API${AGENT:+, warmed up as the node agent is}), $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load average $load_before before, $load_after after" \
    "| JVM | first instruction ms | copied ms | all in (verified) ms |" "|---|---:|---:|---:|"
