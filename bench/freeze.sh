#!/usr/bin/env bash
# bench/freeze.sh: how long `telefork dump --leave-running` keeps a process frozen (a copy-on-write
# twin is forked and read while the process runs on), with 4 KiB pages and with transparent huge
# pages, and what the running process pays meanwhile.
#
#   mvn -B -pl agent -am -DskipTests package     # builds agent/target/telefork.jar
#   bench/freeze.sh                              # Markdown table on stdout, also saved in bench/out/
#
# The target is `holder MIB 1 write` (bench/holder.c): MIB MiB of pseudo-random anonymous memory,
# then a loop that writes one word of every page, pass after pass, printing each pass's start and end.
# Per page size, one target takes RUNS dumps `dump -v --leave-running PID /dev/shm/IMG` (default 5),
# one after the other, the image removed after each. Columns:
#   frozen ms        the engine's "frozen" figure: from the freeze to the moment the process runs again
#   first frozen ms  the same for a target's first dump: the only one of a writing process that still
#                    finds its huge pages whole (a write to a page shared with a twin splits its huge page);
#                    median of the first dumps of FIRSTS fresh targets (the first of them is the one above)
#   dump ms          the engine's whole dump (the twin is read while the process runs)
#   base pass ms     median pass over all pages before the first dump
#   COW faults       minor faults of the target during a dump (median): its first write to each page
#                    while the twin shares it copies the page
#   cost ms          per dump (median): the passes that started during the dump took this much longer
#                    than base passes would have, less the frozen time: copy-on-write faults, plus
#                    the CPU the dump itself takes from the target on this machine
#   us/fault         cost ms / COW faults
# Environment: RUNS (5), FIRSTS (5), MIB (2048), MODES ("4k thp"), JAR (agent/target/telefork.jar), JAVA (java).
# WARM=1: the dumps are made in one JVM through the engine's API (bench/WarmFreeze.java), as the node agent
# makes them, after WARMUP (10) dumps of a 64 MiB writer with the same page size (with AGENT=1, after the
# node agent's own warm-up, Engine.warmUp, first: its practice dumps and restores); otherwise each is a
# `telefork dump` CLI run (a cold JVM, which first practises on a throwaway `sleep`). STEPS=1 with WARM=1
# logs the engine's step times of every dump to stderr (logging them lengthens the freeze a little).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
FIRSTS=${FIRSTS:-5}
MIB=${MIB:-2048}
MODES=${MODES-"4k thp"}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}
WARM=${WARM:-0}
WARMUP=${WARMUP:-10}
AGENT=${AGENT:-}
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"

[[ -f $JAR ]] || { echo "bench: $JAR is missing: mvn -B -pl agent -am -DskipTests package" >&2; exit 1; }
WORK=$(mktemp -d /tmp/telefork-freeze.XXXXXX)
IMG=/dev/shm/telefork-freeze-$$.img
HOLDER=""
WARM_HOLDER=""
cleanup() {
    [[ -z $HOLDER ]] || kill -9 "$HOLDER" 2>/dev/null || true
    [[ -z $WARM_HOLDER ]] || kill -9 "$WARM_HOLDER" 2>/dev/null || true
    rm -rf "$WORK" "$IMG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$WORK/holder" "$ROOT/bench/holder.c"
[[ $WARM != 1 ]] || javac -cp "$JAR" -d "$WORK" "$ROOT/bench/WarmFreeze.java" "$ROOT/bench/StepLog.java"

minflt() { awk '{ sub(/^.*\) /, ""); print $8 }' "/proc/$1/stat"; }
ns() { local t=$EPOCHREALTIME; echo "${t/./}000"; }

# start_holder MIB THP OUT: a writing holder with only descriptors 0, 1 and 2 (telefork refuses descriptors
# it cannot restore), ready; its PID in STARTED.
start_holder() {
    local mib=$1 thp=$2 out=$3 i
    : > "$out"
    (
        for f in /proc/$BASHPID/fd/*; do
            n=${f##*/}
            ((n > 2)) && eval "exec $n>&-"
        done
        HOLDER_THP=$thp exec "$WORK/holder" "$mib" 1 write < /dev/null > "$out" 2>&1
    ) &
    STARTED=$!
    disown "$STARTED"
    for ((i = 0; i < 600; i++)); do
        grep -q READY "$out" && break
        sleep 0.1
    done
    grep -q READY "$out" || { echo "bench: holder not ready: $(cat "$out")" >&2; exit 1; }
}

# run_mode MODE RUNS: one target, RUNS dumps; sets ROW, and FIRST (its first dump's frozen ms).
run_mode() {
    local mode=$1 runs=$2 thp=0 out=$WORK/holder.out r v
    [[ $mode == thp ]] && thp=1
    start_holder "$MIB" "$thp" "$out"
    HOLDER=$STARTED
    sleep 2   # base passes
    local huge
    huge=$(awk '/AnonHugePages/ { print $2 / 1024 }' "/proc/$HOLDER/smaps_rollup")
    local frozen=() engine=() faults=() windows=()
    if [[ $WARM == 1 ]]; then
        start_holder 64 "$thp" "$WORK/warm.out"
        WARM_HOLDER=$STARTED
        echo "bench: $mode, $WARMUP warm-up dumps of a 64 MiB writer, then $runs of the target, in one JVM" >&2
        "$JAVA" -cp "$JAR:$WORK" WarmFreeze "$WARM_HOLDER" "$WARMUP" "$HOLDER" "$runs" "$IMG" ${AGENT:+agent} > "$WORK/warm.txt" \
            || { echo "bench: warm dumps failed" >&2; exit 1; }
        WARM_HOLDER=""   # killed by WarmFreeze once warm
        while read -r _ _ _ f _ e _ t0 _ t1 _ n; do
            frozen+=("$f"); engine+=("$e"); faults+=("$n"); windows+=("$t0 $t1 $f")
        done < "$WORK/warm.txt"
    else
        for ((r = 1; r <= runs; r++)); do
            echo "bench: $mode, dump $r of $runs" >&2
            local f0 f1 t0 t1
            f0=$(minflt "$HOLDER"); t0=$(ns)
            if ! "$TELEFORK" dump -v --leave-running "$HOLDER" "$IMG" 2> "$WORK/dump.err"; then
                echo "bench: dump failed:" >&2; cat "$WORK/dump.err" >&2; exit 1
            fi
            t1=$(ns); f1=$(minflt "$HOLDER")
            rm -f "$IMG"
            v=$(engine_ms "$WORK/dump.err" frozen); frozen+=("$v")
            engine+=("$(engine_ms "$WORK/dump.err" in)")
            faults+=("$((f1 - f0))")
            windows+=("$t0 $t1 $v")
            sleep 1
        done
    fi
    kill -9 "$HOLDER"; HOLDER=""
    local first=${windows[0]%% *} base
    base=$(awk -v first="$first" '$1 == "pass" && $3 < first { print ($3 - $2) / 1e6 }' "$out" | median)
    base=$(printf '%.1f' "$base")
    local costs=()
    for w in "${windows[@]}"; do
        read -r t0 t1 v <<< "$w"
        costs+=("$(awk -v a="$t0" -v b="$t1" -v base="$base" -v frozen="$v" '
            $1 == "pass" && $2 >= a && $2 < b { sum += ($3 - $2) / 1e6; n++ }
            END { c = sum - n * base - frozen; if (c < 0) c = 0; printf "%.1f", c }' "$out")")
    done
    local f c
    f=$(printf '%.0f' "$(md "${faults[@]}")"); c=$(md "${costs[@]}")
    FIRST=${frozen[0]}
    ROW="| $MIB MiB, $mode pages ($huge MiB huge) | $(md "${frozen[@]}") | FIRSTS_MEDIAN | $(md "${engine[@]}") | $base | $f | $c | $(awk -v c="$c" -v f="$f" 'BEGIN { if (f > 0) printf "%.2f", c * 1000 / f; else print "-" }') |"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
rows=()
for mode in $MODES; do
    run_mode "$mode" "$RUNS"
    row=$ROW
    firsts=("$FIRST")
    for ((k = 2; k <= FIRSTS; k++)); do
        echo "bench: $mode, first dump of fresh target $k of $FIRSTS" >&2
        run_mode "$mode" 1
        firsts+=("$FIRST")
    done
    echo "bench: $mode, first dumps: ${firsts[*]} ms frozen" >&2
    rows+=("${row/FIRSTS_MEDIAN/$(md "${firsts[@]}")}")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

mkdir -p "$ROOT/bench/out"
result=$ROOT/bench/out/freeze-$(date -u +%Y%m%dT%H%M%SZ).md
{
    how="telefork dump --leave-running (CLI)"
    [[ $WARM != 1 ]] || how="dump --leave-running in a warm engine (bench/WarmFreeze.java, after ${AGENT:+Engine.warmUp and }$WARMUP warm-up dumps)"
    echo "$how of a process writing to all its pages: medians of $RUNS dumps (first frozen: of the first dumps of $FIRSTS fresh targets), $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load average $load_before before, $load_after after"
    echo
    echo "| target | frozen ms | first frozen ms | dump ms | base pass ms | COW faults | cost ms | us/fault |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    printf '%s\n' "${rows[@]}"
} | tee "$result"
echo "bench: saved in $result" >&2
