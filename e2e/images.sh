#!/usr/bin/env bash
# Container images without Docker or a registry.
#   e2e/images.sh build                 build pause + counter archives into the cache (if changed)
#   e2e/images.sh import [ARCHIVE...]   import archives (default: pause + counter) into every node
#   e2e/images.sh [all]                 build, then import the defaults
# ARCHIVE may be any docker-archive or OCI tarball (e.g. Jib's jib:buildTar output). OCI archives
# get --index-name from the IMAGE_NAME env var if set (ctr ignores --base-name for them).
# Images are referenced from pods with imagePullPolicy: Never.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build() {
  mkdir -p "$IMAGE_CACHE"
  local key; key=$(cat "$E2E_DIR/images/pause.c" "$E2E_DIR/images/counter.c" "$E2E_DIR/images/mkimage.py" | sha256sum | cut -c1-16)
  if [ -f "$IMAGE_CACHE/pause.tar" ] && [ -f "$IMAGE_CACHE/counter.tar" ] && [ "$(cat "$IMAGE_CACHE/key" 2>/dev/null)" = "$key" ]; then
    log "image archives up to date in $IMAGE_CACHE"; return
  fi
  local w; w=$(mktemp -d)
  gcc -static -O2 -o "$w/pause" "$E2E_DIR/images/pause.c"
  gcc -static -O2 -o "$w/counter" "$E2E_DIR/images/counter.c"
  python3 "$E2E_DIR/images/mkimage.py" "$IMAGE_CACHE/pause.tar" "${PAUSE_IMAGE#docker.io/}" /pause "$w/pause:/pause"
  python3 "$E2E_DIR/images/mkimage.py" "$IMAGE_CACHE/counter.tar" "${COUNTER_IMAGE#docker.io/}" /counter "$w/counter:/counter" --dir /data
  rm -rf "$w"
  echo "$key" > "$IMAGE_CACHE/key"
  log "built $IMAGE_CACHE/pause.tar and counter.tar"
}

import() {
  local archives=("$@")
  ((${#archives[@]})) || archives=("$IMAGE_CACHE/pause.tar" "$IMAGE_CACHE/counter.tar")
  local node a t
  for node in "${NODES[@]}"; do
    [ -S "$(node_sock "$node")" ] || die "$node: no containerd socket $(node_sock "$node") (cluster not up?)"
    for a in "${archives[@]}"; do
      [ -f "$a" ] || die "no such archive: $a"
      t=$(date +%s%3N)
      local extra=()
      if tar -tf "$a" 2>/dev/null | grep -qx 'index.json' && ! tar -tf "$a" | grep -qx 'manifest.json'; then
        [ -n "${IMAGE_NAME:-}" ] && extra=(--index-name "$IMAGE_NAME")
      fi
      ctr -a "$(node_sock "$node")" -n k8s.io images import "${extra[@]}" "$a" >/dev/null
      log "$node: imported $(basename "$a") in $(elapsed "$t")s"
    done
  done
  for node in "${NODES[@]}"; do
    ctr -a "$(node_sock "$node")" -n k8s.io images ls -q | grep -v '^sha256:' | sed "s/^/  $node: /"
  done
}

case "${1:-all}" in
  build) build ;;
  import) shift; import "$@" ;;
  all) build; import ;;
  *) echo "usage: $0 [build|import [ARCHIVE...]|all]" >&2; exit 2 ;;
esac
