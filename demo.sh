#!/usr/bin/env bash
# The local demo: build telefork if needed, start examples/dumpme.sh, checkpoint it after it has
# printed 3 (the process is killed once the image is safe), then restore it: it counts on to 10.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

if [[ ! -f agent/target/telefork.jar ]]; then
  echo "== building telefork (first run only)"
  mvn -B -q -DskipTests -pl agent -am package
fi

image="$(mktemp -d)/dumpme.img"
trap 'rm -rf "$(dirname "$image")"' EXIT

echo "== starting examples/dumpme.sh"
# Only stdin/stdout/stderr may be open in the process to dump: close whatever else this shell holds.
# (A process substitution, not a job: bash would announce its death when the dump kills it.)
exec {out}< <(
  for fd in /proc/$BASHPID/fd/*; do
    n=${fd##*/}
    if (( n > 2 )); then eval "exec $n>&-"; fi
  done
  exec bash examples/dumpme.sh 2>&1  # its stderr too: a file this demo's output goes to would change meanwhile
)
pid=$!
while IFS= read -r line <&"$out"; do
  echo "$line"
  [[ $line == 3 ]] && break
done

echo "== ./telefork dump $pid $image"
./telefork dump -v "$pid" "$image"
./telefork inspect "$image" | head -4

echo "== ./telefork restore $image"
set +e
./telefork restore -v "$image"
status=$?
set -e
echo "== the restored process exited with status $status"
exit "$status"
