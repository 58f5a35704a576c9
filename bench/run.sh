#!/usr/bin/env bash
# bench/run.sh: how long telefork takes to dump and restore a process holding 64 MiB, 512 MiB and
# 2 GiB of incompressible memory, compared with copying a file of the image's size in /dev/shm; then a
# JVM with a 512 MiB heap, and the cost of threads (one process of 256 MiB with 1 or 64 threads).
#
#   mvn -B -pl agent -DskipTests package     # builds agent/target/telefork.jar
#   bench/run.sh                              # Markdown table on stdout, also saved in bench/out/
#
# Targets (bench/holder.c, bench/JvmHeap.java):
#   plain     `holder MIB`: MIB MiB of pseudo-random anonymous memory, one thread
#   jvm       `java -Xms1g -Xmx1g -XX:-UsePerfData JvmHeap MIB`: MIB MiB of pseudo-random longs on the heap
#             (G1, the JDK's default here), four threads counting, plus the JVM's own threads. No perf
#             data file: a JVM that starts (telefork's own) deletes those of JVMs that are not running,
#             which a dumped JVM is until it is restored.
#   threads   `holder MIB THREADS`: the same memory with THREADS threads in all (the others in pause())
# For each target, RUNS times (default 5), each run with a fresh target process:
#   dump     `telefork dump -v PID /dev/shm/IMG` (no --leave-running: the process is killed), wall time
#            until the command returns
#   restore  `telefork restore -v --detach /dev/shm/IMG`, wall time until the command returns (the
#            process runs again at that point); then the restored process is killed
#   cp       `cp` of the image to another file in /dev/shm: the cost of just moving those bytes
# The table shows medians. Wall times include the JVM's start (shown on its own as "jvm s": the median
# of `telefork --help`). Every command is run through ./telefork, the launcher users run, with its JVM flags. The engine's own times are parsed from the -v lines
# ("dumped ... in X ms (frozen Y ms)", "restored ... in X ms") where present.
#
# LAZY=1 restores with --lazy: the restore command then returns once every page is in, and three more
# columns show the engine's time from the restore's start to the process's first instruction, to every
# page in with the image's digest verified, and to the last page copied in (from its -v line "lazy:
# running after X ms, every page in after Y ms (copied after Z ms, ...)"; "-" from a telefork that does not
# print the last).
#
# Environment: RUNS (5), SIZES ("64 512 2048", MiB), JVM_MIB (512), THREAD_MIB (256), THREADS ("1 64"),
# LAZY (0), JAR (agent/target/telefork.jar), JAVA (java). An empty SIZES, JVM_MIB or THREADS skips that
# table. The lazy figures of the README: LAZY=1 SIZES=2048 JVM_MIB= THREADS= bench/run.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-5}
SIZES=${SIZES-"64 512 2048"}
JVM_MIB=${JVM_MIB-512}
THREAD_MIB=${THREAD_MIB:-256}
THREADS=${THREADS-"1 64"}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}
LAZY=${LAZY:-0}

[[ -f $JAR ]] || { echo "bench: $JAR not found; build it with: mvn -B -pl agent -DskipTests package" >&2; exit 1; }
command -v gcc >/dev/null || { echo "bench: gcc is needed to build bench/holder.c" >&2; exit 1; }
[[ -z $JVM_MIB ]] || command -v javac >/dev/null || { echo "bench: javac is needed for the JVM target" >&2; exit 1; }
[[ -d /dev/shm && -w /dev/shm ]] || { echo "bench: /dev/shm is not writable" >&2; exit 1; }

source "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/telefork-bench.XXXXXX)
SHM=/dev/shm/telefork-bench-$$
HOLDER=""    # the running target process, while there is one
RESTORED=""  # the restored process, while there is one
cleanup() {
    [[ -n $HOLDER ]] && kill -9 "$HOLDER" 2>/dev/null
    [[ -n $RESTORED ]] && kill -9 "$RESTORED" 2>/dev/null
    rm -f "$SHM".img "$SHM".copy
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$WORK/holder" "$ROOT/bench/holder.c"
[[ -z $JVM_MIB ]] || javac -d "$WORK" "$ROOT/bench/JvmHeap.java"


# Starts a target (the command line given) and waits for its READY; sets HOLDER.
start_target() {
    local out=$WORK/holder.out
    : > "$out"
    # telefork refuses processes with descriptors it cannot restore: give the target only 0, 1 and 2
    (
        for f in /proc/$BASHPID/fd/*; do
            n=${f##*/}
            ((n > 2)) && eval "exec $n>&-"
        done
        exec "$@" < /dev/null > "$out" 2>&1
    ) &
    HOLDER=$!
    disown "$HOLDER"  # no "Killed" job notice when the dump kills it; bash still reaps it
    local i
    for ((i = 0; i < 600; i++)); do
        grep -q READY "$out" && return 0
        kill -0 "$HOLDER" 2>/dev/null || { echo "bench: target died: $(cat "$out")" >&2; exit 1; }
        sleep 0.1
    done
    echo "bench: target $* not ready after 60 s" >&2
    exit 1
}
jvm=()
for ((r = 0; r < RUNS; r++)); do
    t0=$(now); "$TELEFORK" --help > /dev/null 2>&1; t1=$(now)
    jvm+=("$(elapsed "$t0" "$t1")")
done
JVM_S=$(printf '%s\n' "${jvm[@]}" | median)


# measure LABEL COMMAND...: RUNS dumps and restores of fresh targets started with COMMAND; sets ROW (not
# run in a $(...) subshell, so that an exit stops the whole run and the cleanup sees HOLDER and RESTORED).
measure() {
    local label=$1 r i v restored
    shift
    local dump_s=() restore_s=() image_mib=() cp_s=() e_dump=() e_frozen=() e_restore=() e_first=() e_allin=() e_copied=()
    for ((r = 1; r <= RUNS; r++)); do
        echo "bench: $label, run $r of $RUNS" >&2
        start_target "$@"

        timed_dump "$HOLDER" "$SHM.img"
        HOLDER=""

        timed_restore "$SHM.img"
        restored=$(head -n1 "$WORK/restore.out")
        if [[ $restored =~ ^[0-9]+$ ]]; then
            RESTORED=$restored
            kill -9 "$RESTORED" 2>/dev/null || true
            for ((i = 0; i < 100; i++)); do   # gone, or a zombie nobody reaps
                [[ -e /proc/$RESTORED && $(awk '{ print $3 }' "/proc/$RESTORED/stat" 2>/dev/null) != Z ]] || break
                sleep 0.05
            done
            RESTORED=""
        else
            echo "bench: restore --detach printed no PID: $(cat "$WORK/restore.out")" >&2
        fi

        t0=$(now)
        cp "$SHM.img" "$SHM.copy"
        t1=$(now)
        cp_s+=("$(elapsed "$t0" "$t1")")
        rm -f "$SHM.img" "$SHM.copy"
    done
    local d rs c
    d=$(md "${dump_s[@]}"); rs=$(md "${restore_s[@]}"); c=$(md "${cp_s[@]}")
    ROW="| $label | $d | $rs | $(md "${image_mib[@]}") | $c | $(ratio "$d" "$c") | $(ratio "$rs" "$c") | $JVM_S | $(md "${e_dump[@]+"${e_dump[@]}"}") | $(md "${e_frozen[@]+"${e_frozen[@]}"}") | $(md "${e_restore[@]+"${e_restore[@]}"}") |"
    if [[ $LAZY == 1 ]]; then
        ROW="$ROW $(md "${e_first[@]+"${e_first[@]}"}") | $(md "${e_allin[@]+"${e_allin[@]}"}") | $(md "${e_copied[@]+"${e_copied[@]}"}") |"
    fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
plain=() jvmrows=() threadrows=()
for size in $SIZES; do
    measure "$size MiB" "$WORK/holder" "$size"
    plain+=("$ROW")
done
if [[ -n $JVM_MIB ]]; then
    measure "JVM, $JVM_MIB MiB heap" "$JAVA" -Xms1g -Xmx1g -XX:-UsePerfData -cp "$WORK" JvmHeap "$JVM_MIB"
    jvmrows+=("$ROW")
fi
for n in $THREADS; do
    measure "$THREAD_MIB MiB, $n thread$( ((n == 1)) || echo s)" "$WORK/holder" "$THREAD_MIB" "$n"
    threadrows+=("$ROW")
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

header="| target | dump s | restore s | image MiB | cp s | dump/cp | restore/cp | jvm s | engine dump ms | frozen ms | engine restore ms |"
rule="|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
if [[ $LAZY == 1 ]]; then
    header="$header lazy: first instruction ms | lazy: all in ms | lazy: copied ms |"
    rule="$rule---:|---:|---:|"
fi
table() {
    (($# == 0)) && return 0
    echo
    echo "$header"
    echo "$rule"
    printf '%s\n' "$@"
}
mkdir -p "$ROOT/bench/out"
result=$ROOT/bench/out/results-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "telefork dump/restore$( [[ $LAZY == 1 ]] && echo " --lazy") vs cp in /dev/shm: medians of $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load average $load_before before, $load_after after"
    table "${plain[@]+"${plain[@]}"}"
    table "${jvmrows[@]+"${jvmrows[@]}"}"
    table "${threadrows[@]+"${threadrows[@]}"}"
} | tee "$result"
echo "bench: saved in $result" >&2
