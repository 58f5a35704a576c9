#!/usr/bin/env bash
# bench/warm-copy.sh: a plain dump and an eager restore of a 1 GiB process in a warm engine, as the
# long-lived node agent makes them, against `cp` of the same image in /dev/shm. One JVM
# (bench/WarmCopy.java, on the classes of agent/target/telefork.jar) runs RUNS rounds through the
# engine's API (io.telefork.engine.Engine): start `holder MIB` (bench/holder.c: MIB MiB of pseudo-random
# memory, incompressible), dump it to /dev/shm (the process is killed once the image is written), `cp`
# the image to another file in /dev/shm, restore the image eagerly, kill the restored process.
#
#   mvn -B -pl agent -DskipTests package     # builds agent/target/telefork.jar
#   bench/warm-copy.sh                        # Markdown table on stdout, also saved in bench/out/
#
# Columns: the engine's own times (the dump's whole time, its freeze, and the restore's time until the
# process runs) and cp's wall time, then dump/cp and restore/cp. Run 1 is the cold JVM a CLI command
# has (its dump and restore also pay for the JVM's first calls); warm: medians of runs 2..RUNS, each
# ratio taken per run. bench/run.sh measures the CLI (a cold JVM per command) on the same targets.
#
# Environment: RUNS (6), MIB (1024), JAR (agent/target/telefork.jar), JAVA (java); AGENT=1 first warms the
# engine up as the node agent does when it starts (Engine.warmUp); FILL (auto) is how the restore fills
# memory: auto, userfaultfd (UFFDIO_COPY) or write (process_vm_writev), as `restore` decides by default,
# with --userfaultfd and with --no-userfaultfd; STEPS=1 logs the engine's step times of every dump and
# restore (what -vv shows) to stderr.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-6}
AGENT=${AGENT:-}
export FILL=${FILL:-auto}
MIB=${MIB:-1024}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}

source "$ROOT/bench/lib.sh"
warm_preconditions
WORK=$(mktemp -d /tmp/telefork-bench.XXXXXX)
IMG=/dev/shm/telefork-warm-copy-$$.img
cleanup() {
    rm -f "$IMG" "$IMG.copy"
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -pthread -o "$WORK/holder" "$ROOT/bench/holder.c"
javac -cp "$JAR" -d "$WORK" "$ROOT/bench/WarmCopy.java" "$ROOT/bench/StepLog.java"

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$JAVA" -cp "$JAR:$WORK" WarmCopy "$WORK/holder" "$MIB" "$IMG" "$RUNS" ${AGENT:+agent} | tee "$WORK/runs.txt" >&2
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ratio_col KEY COLD: KEY / cp_ms per run, for run 1 or runs 2..
ratio_col() { awk -v k="$1" -v cold="$2" '{ for (i = 1; i < NF; i++) { if ($i == k) v = $(i + 1); if ($i == "cp_ms") c = $(i + 1) } if (($2 == 1) == (cold == 1)) printf "%.2f\n", v / c }' "$WORK/runs.txt"; }
col() { run_col "$WORK/runs.txt" "$1" "$2"; }
row() { echo "| $1 | $(col dump_ms "$2" | median) | $(col frozen_ms "$2" | median) | $(col restore_ms "$2" | median) | $(col cp_ms "$2" | median) | $(ratio_col dump_ms "$2" | median) | $(ratio_col restore_ms "$2" | median) |"; }
warm_table warm-copy "telefork dump and eager restore of $MIB MiB in one JVM (engine API${AGENT:+, warmed up as the node agent is}, fill $FILL) vs cp in /dev/shm, $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load average $load_before before, $load_after after" \
    "| JVM | dump ms | frozen ms | restore ms | cp ms | dump/cp | restore/cp |" "|---|---:|---:|---:|---:|---:|---:|"
