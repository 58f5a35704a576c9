#!/usr/bin/env bash
# Builds the E2E workload image telefork-e2e/counter-sh:1: the static counter (images/counter.c),
# memhog (images/memhog.c: N MiB of random memory, for a dump that takes seconds) and threads
# (images/threads.c: a counter with two worker threads that checks they keep their IDs), plus
# /bin/sh (dash) and /bin/sleep with the shared libraries they need, because a restore target pod runs
# the operator's placeholder `/bin/sh -c "... sleep 2147483647 & ..."` in the workload's own image.
# Pods must set PATH=/bin:/ (mkimage.py's config has PATH=/).
#   e2e/workload-image.sh [OUT.tar]     default $IMAGE_CACHE/counter-sh.tar
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out=${1:-$IMAGE_CACHE/counter-sh.tar}
mkdir -p "$(dirname "$out")"
w=$(mktemp -d); trap 'rm -rf "$w"' EXIT
gcc -static -O2 -o "$w/counter" "$E2E_DIR/images/counter.c"
gcc -static -O2 -o "$w/memhog" "$E2E_DIR/images/memhog.c"
gcc -static -O2 -pthread -o "$w/threads" "$E2E_DIR/images/threads.c"
args=("$w/counter:/counter" "$w/memhog:/memhog" "$w/threads:/threads" "$(readlink -f /bin/dash):/bin/sh" "$(readlink -f /bin/sleep):/bin/sleep")
# Shared libraries of dash and sleep (and the dynamic loader), at the paths the binaries ask for.
for lib in $(ldd /bin/dash /bin/sleep | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | sort -u); do
  args+=("$(readlink -f "$lib"):$lib:0755")
done
python3 "$E2E_DIR/images/mkimage.py" "$out" telefork-e2e/counter-sh:1 /counter "${args[@]}" --dir /data --dir /tmp
