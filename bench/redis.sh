#!/usr/bin/env bash
# bench/redis.sh: dump and restore a redis-server holding about 1 GB of data, checking that the data
# comes back bit for bit, compared with copying a file of the image's size in /dev/shm (as bench/run.sh).
#
#   mvn -B -pl agent -DskipTests package     # builds agent/target/telefork.jar
#   bench/redis.sh                            # Markdown table on stdout, also saved in bench/out/
#
# Per run (RUNS, default 3), a fresh redis-server (Debian's redis 7: `--enable-debug-command yes` is
# needed for DEBUG) on a free port of 127.0.0.1, with a temporary directory and no persistence, is
# loaded with `DEBUG POPULATE KEYS key VALUE` (default 1 000 000 keys of 1000 bytes), its data summed
# with `DEBUG DIGEST`; then
#   dump     `telefork dump -v PID /dev/shm/IMG` (redis is killed), wall time until the command returns
#   restore  `telefork restore -v --detach /dev/shm/IMG`, wall time until the command returns (redis
#            runs again then), and the restored redis must answer with the same DEBUG DIGEST and DBSIZE
#   cp       `cp` of the image to another file in /dev/shm
# The table shows medians, with redis's resident memory (RSS) before the dump and the engine's own
# times parsed from -v. The load average at the start is printed with the results.
#
# Environment: RUNS (3), KEYS (1000000), VALUE (1000 bytes), JAR (agent/target/telefork.jar), JAVA (java),
# REDIS (redis-server), CLI (redis-cli).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${RUNS:-3}
KEYS=${KEYS:-1000000}
VALUE=${VALUE:-1000}
JAR=${JAR:-$ROOT/agent/target/telefork.jar}
JAVA=${JAVA:-java}
REDIS=${REDIS:-redis-server}
CLI=${CLI:-redis-cli}

[[ -f $JAR ]] || { echo "bench: $JAR not found; build it with: mvn -B -pl agent -DskipTests package" >&2; exit 1; }
command -v "$REDIS" >/dev/null || { echo "bench: $REDIS not found (apt-get install redis-server)" >&2; exit 1; }
command -v "$CLI" >/dev/null || { echo "bench: $CLI not found (apt-get install redis-tools)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 is needed to find a free port" >&2; exit 1; }

source "$ROOT/bench/lib.sh"
WORK=$(mktemp -d /tmp/telefork-bench-redis.XXXXXX)
SHM=/dev/shm/telefork-bench-redis-$$
SERVER=""  # the running redis (original or restored), while there is one
cleanup() {
    [[ -n $SERVER ]] && kill -9 "$SERVER" 2>/dev/null
    rm -f "$SHM".img "$SHM".copy
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
rcli() { "$CLI" -h 127.0.0.1 -p "$PORT" "$@"; }

await_pong() {
    local i
    for ((i = 0; i < 300; i++)); do
        [[ $(rcli PING 2>/dev/null) == PONG ]] && return 0
        sleep 0.1
    done
    echo "bench: redis on port $PORT does not answer" >&2
    exit 1
}

# Starts redis on a free port with only fds 0-2 of ours (telefork refuses what it cannot restore).
start_redis() {
    PORT=$(free_port)
    (
        for f in /proc/$BASHPID/fd/*; do
            n=${f##*/}
            ((n > 2)) && eval "exec $n>&-"
        done
        exec "$REDIS" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no --enable-debug-command yes \
            --dir "$WORK" --logfile "$WORK/redis.log" < /dev/null > /dev/null 2>&1
    ) &
    SERVER=$!
    disown "$SERVER"
    await_pong
}

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
dump_s=() restore_s=() image_mib=() rss_mib=() cp_s=() e_dump=() e_frozen=() e_restore=() checks=()
for ((r = 1; r <= RUNS; r++)); do
    echo "bench: redis run $r of $RUNS: $KEYS keys of $VALUE bytes" >&2
    start_redis
    [[ $(rcli DEBUG POPULATE "$KEYS" key "$VALUE") == OK ]] || { echo "bench: DEBUG POPULATE failed" >&2; exit 1; }
    digest=$(rcli DEBUG DIGEST)
    size=$(rcli DBSIZE)
    rss_mib+=("$(awk '/^VmRSS/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER/status")")

    timed_dump "$SERVER" "$SHM.img"
    SERVER=""

    timed_restore "$SHM.img"
    SERVER=$(head -n1 "$WORK/restore.out")
    [[ $SERVER =~ ^[0-9]+$ ]] || { echo "bench: restore --detach printed no PID" >&2; SERVER=""; exit 1; }
    await_pong
    after=$(rcli DEBUG DIGEST)
    if [[ $after != "$digest" || $(rcli DBSIZE) != "$size" ]]; then
        echo "bench: the restored redis differs: digest $digest -> $after, dbsize $size -> $(rcli DBSIZE)" >&2
        exit 1
    fi
    checks+=("$digest")
    kill -9 "$SERVER" 2>/dev/null || true
    SERVER=""

    t0=$(now)
    cp "$SHM.img" "$SHM.copy"
    t1=$(now)
    cp_s+=("$(elapsed "$t0" "$t1")")
    rm -f "$SHM.img" "$SHM.copy"
done

d=$(md "${dump_s[@]}"); rs=$(md "${restore_s[@]}"); c=$(md "${cp_s[@]}")
mkdir -p "$ROOT/bench/out"
result=$ROOT/bench/out/redis-$(date -u +%Y%m%dT%H%M%SZ).md
{
    echo "telefork dump/restore of redis-server ($KEYS keys of $VALUE bytes, DEBUG DIGEST equal after every restore) vs cp in /dev/shm:"
    echo "medians of $RUNS runs, $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) CPUs, load average at start $LOAD"
    echo
    echo "| redis RSS MiB | dump s | restore s | image MiB | cp s | dump/cp | restore/cp | engine dump ms | frozen ms | engine restore ms |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    echo "| $(md "${rss_mib[@]}") | $d | $rs | $(md "${image_mib[@]}") | $c | $(ratio "$d" "$c") | $(ratio "$rs" "$c") | $(md "${e_dump[@]+"${e_dump[@]}"}") | $(md "${e_frozen[@]+"${e_frozen[@]}"}") | $(md "${e_restore[@]+"${e_restore[@]}"}") |"
} | tee "$result"
echo "bench: saved in $result" >&2
