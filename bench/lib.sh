# Shared by bench/run.sh and bench/redis.sh (sourced, not run): time stamps, medians, and one timed
# dump and restore through the CLI (./telefork). Expects JAVA, JAR and WORK to be set.

# The CLI as users run it: the ./telefork launcher (its JVM flags), on the benchmark's JAR and JAVA (set
# before this is sourced).
TELEFORK=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/telefork
export TELEFORK_JAR=$JAR TELEFORK_JAVA=$JAVA
now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
md() { if (($# == 0)); then echo "-"; else printf '%s\n' "$@" | median; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%.1f", a / b }'; }
# first "in X ms" (and "frozen Y ms") of an engine -v line, or nothing
engine_ms() { grep -oE "$2 ([0-9.]+) ms" "$1" | head -n1 | grep -oE '[0-9.]+' || true; }

# timed_dump PID IMG: `telefork dump -v PID IMG`, which kills PID, timed until the command returns;
# waits for PID to be gone, then appends to the caller's arrays dump_s, image_mib, e_dump and e_frozen.
timed_dump() {
    local pid=$1 img=$2 t0 t1 i v
    t0=$(now)
    if ! "$TELEFORK" dump -v "$pid" "$img" 2> "$WORK/dump.err"; then
        echo "bench: dump failed:" >&2; cat "$WORK/dump.err" >&2; exit 1
    fi
    t1=$(now)
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    dump_s+=("$(elapsed "$t0" "$t1")")
    image_mib+=("$(awk -v b="$(stat -c %s "$img")" 'BEGIN { printf "%.1f", b / 1048576 }')")
    v=$(engine_ms "$WORK/dump.err" in); [[ -n $v ]] && e_dump+=("$v")
    v=$(engine_ms "$WORK/dump.err" frozen); [[ -n $v ]] && e_frozen+=("$v")
    return 0
}

# timed_restore IMG: `telefork restore -v --detach [--lazy] IMG` (--lazy when LAZY=1), timed until the
# command returns (the process runs then; lazily, every page is in then too); appends to the caller's
# arrays restore_s and e_restore, and lazily to e_first, e_allin and e_copied (the engine's "running after
# X ms, every page in after Y ms (copied after Z ms, ...)"). The restored PID is the first line of $WORK/restore.out.
timed_restore() {
    local img=$1 t0 t1 v lazy=()
    [[ ${LAZY:-0} == 1 ]] && lazy=(--lazy)
    t0=$(now)
    if ! "$TELEFORK" restore -v --detach "${lazy[@]+"${lazy[@]}"}" "$img" < /dev/null > "$WORK/restore.out" 2> "$WORK/restore.err"; then
        echo "bench: restore failed:" >&2; cat "$WORK/restore.err" >&2; exit 1
    fi
    t1=$(now)
    restore_s+=("$(elapsed "$t0" "$t1")")
    v=$(engine_ms "$WORK/restore.err" in); [[ -n $v ]] && e_restore+=("$v")
    v=$(engine_ms "$WORK/restore.err" "running after"); [[ -n $v ]] && e_first+=("$v")
    v=$(engine_ms "$WORK/restore.err" "every page in after"); [[ -n $v ]] && e_allin+=("$v")
    v=$(engine_ms "$WORK/restore.err" "copied after"); [[ -n $v ]] && e_copied+=("$v")
    return 0
}

# For the warm benchmarks: the jar is built, and RUNS >= 2 (run 1 is the cold one).
warm_preconditions() {
    [[ -f $JAR ]] || { echo "bench: $JAR not found; build it with: mvn -B -pl agent -DskipTests package" >&2; exit 1; }
    ((RUNS >= 2)) || { echo "bench: RUNS must be at least 2 (run 1 is the cold one)" >&2; exit 1; }
}

# For the warm benchmarks (one JVM, lines "run N KEY VALUE ..."): run_col FILE KEY COLD prints KEY's values
# of run 1 (COLD=1) or of runs 2.. (COLD=0).
run_col() { awk -v k="$2" -v cold="$3" '{ for (i = 1; i < NF; i++) if ($i == k) v = $(i + 1); if (($2 == 1) == (cold == 1)) print v }' "$1"; }

# warm_table NAME TITLE HEADER SEPARATOR: TITLE, then a Markdown table of two rows made by the caller's
# `row LABEL COLD`: run 1 (after Engine.warmUp if AGENT is set, else the cold JVM) and the median of runs
# 2..RUNS; printed and saved as bench/out/NAME-<time>.md.
warm_table() {
    local result
    mkdir -p "$ROOT/bench/out"
    result=$ROOT/bench/out/$1-$(date -u +%Y%m%dT%H%M%SZ).md
    {
        echo "$2"
        echo
        echo "$3"
        echo "$4"
        if [[ -n $AGENT ]]; then
            row "after Engine.warmUp (run 1)" 1
        else
            row "cold (run 1)" 1
        fi
        row "warm (median of runs 2..$RUNS)" 0
    } | tee "$result"
    echo "bench: saved in $result" >&2
}
