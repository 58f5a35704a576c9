#!/usr/bin/env bash
# Builds kube-apiserver, kube-controller-manager, kube-scheduler and kubelet v1.20.2 from Debian
# bookworm's `kubernetes` source package into a cache outside the repository, and installs (apt-get)
# the node runtime the e2e cluster needs. Idempotent: skips the build when the cache is complete.
#
#   e2e/build-kube.sh            # install packages + build (or reuse) binaries
#   KUBE_E2E_CACHE=/some/dir e2e/build-kube.sh
#   e2e/build-kube.sh --prune    afterwards delete the 2.6 GB build tree (keeps bin/ and the sources)
#
# Output: $KUBE_E2E_CACHE/kube-v1.20.2/bin/{kube-apiserver,kube-controller-manager,kube-scheduler,kubelet}
set -euo pipefail

KUBE_VERSION=v1.20.2
CACHE_ROOT=${KUBE_E2E_CACHE:-/var/cache/telefork-e2e}
CACHE=$CACHE_ROOT/kube-$KUBE_VERSION
BIN=$CACHE/bin
BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubelet)
T0=$(date +%s)
step() { echo "[build-kube +$(( $(date +%s) - T0 ))s] $*"; }

# ---- 1. packages -----------------------------------------------------------------------------
PKGS=(etcd-server containerd runc containernetworking-plugins golang-go rsync dpkg-dev iproute2 iptables gcc libc6-dev make)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  step "apt-get install ${missing[*]}"
  apt-get update -qq
  # policy-rc.d: do not let the packages' services start (etcd, containerd): the harness runs its own.
  if [ ! -e /usr/sbin/policy-rc.d ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; RM_POLICY=1; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  [ "${RM_POLICY:-0}" = 1 ] && rm -f /usr/sbin/policy-rc.d
  step "packages installed"
else
  step "packages already installed"
fi
if command -v kubectl >/dev/null; then
  step "kubectl: $(command -v kubectl) ($(kubectl version --client 2>/dev/null | head -1))"
else
  step "no kubectl on PATH: installing Debian's kubernetes-client (1.20)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kubernetes-client
fi

# ---- 2. cache check --------------------------------------------------------------------------
prune() {
  if [ "${1:-}" = --prune ] && [ -d "$CACHE/gopath" ]; then
    rm -rf "$CACHE/gopath"; step "pruned $CACHE/gopath (binaries kept)"
  fi
}
complete=1
for b in "${BINARIES[@]}"; do [ -x "$BIN/$b" ] || complete=0; done
if [ "$complete" = 1 ] && [ -f "$BIN/.complete" ]; then
  step "cache complete: $BIN (nothing to build)"
  prune "${1:-}"
  exit 0
fi

# ---- 3. sources (private apt configuration, /etc/apt untouched) --------------------------------
mkdir -p "$CACHE"/{apt/lists/partial,apt/cache/archives/partial,src,debs}
APT_SRC_LIST=$CACHE/apt/sources.list
echo "deb-src [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm main" > "$APT_SRC_LIST"
APT_PRIV=(-o Dir::Etc::sourcelist="$APT_SRC_LIST" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$CACHE/apt/lists" -o Dir::Cache="$CACHE/apt/cache" -o APT::Get::List-Cleanup=0)
if ! ls "$CACHE"/src/kubernetes_*.dsc >/dev/null 2>&1; then
  step "downloading kubernetes source package (private apt config)"
  apt-get "${APT_PRIV[@]}" update -qq
  (cd "$CACHE/src" && apt-get "${APT_PRIV[@]}" source --download-only kubernetes)
fi
if ! ls "$CACHE"/debs/golang-github-modern-go-reflect2-dev_*.deb >/dev/null 2>&1; then
  step "downloading golang-github-modern-go-reflect2-dev (not installed, only unpacked)"
  (cd "$CACHE/debs" && apt-get download golang-github-modern-go-reflect2-dev)
fi

GOPATH_DIR=$CACHE/gopath
SRC=$GOPATH_DIR/src/k8s.io/kubernetes
if [ ! -f "$SRC/.telefork-prepared" ]; then
  step "unpacking source"
  rm -rf "$GOPATH_DIR" "$CACHE/src/unpacked"
  mkdir -p "$GOPATH_DIR/src/k8s.io"
  (cd "$CACHE/src" && dpkg-source --no-check -x kubernetes_*.dsc unpacked >/dev/null)
  mv "$CACHE/src/unpacked" "$SRC"
  # reflect2 1.0.1 (vendored) faults under Go >= 1.18 the first time a custom resource is created:
  # replace it with Debian's 1.0.2.
  rm -rf "$CACHE/reflect2" && mkdir -p "$CACHE/reflect2"
  dpkg-deb -x "$CACHE"/debs/golang-github-modern-go-reflect2-dev_*.deb "$CACHE/reflect2"
  R2=$(dirname "$(find "$CACHE/reflect2" -path '*github.com/modern-go/reflect2/reflect2.go' | head -1)")
  [ -d "$R2" ] || { echo "reflect2 sources not found in the deb" >&2; exit 1; }
  rm -rf "$SRC/vendor/github.com/modern-go/reflect2"
  cp -rL "$R2" "$SRC/vendor/github.com/modern-go/reflect2"
  rm -f "$SRC/vendor/github.com/modern-go/reflect2/go.mod" "$SRC/vendor/github.com/modern-go/reflect2/go.sum"
  touch "$SRC/.telefork-prepared"
fi

# ---- 4. build ----------------------------------------------------------------------------------
step "building with $(go version)"
export GOPATH=$GOPATH_DIR GO111MODULE=off GOPROXY=off GOFLAGS= CGO_ENABLED=0
export KUBE_GIT_VERSION=$KUBE_VERSION KUBE_GIT_MAJOR=1 KUBE_GIT_MINOR=20 KUBE_GIT_TREE_STATE=clean
export KUBE_GIT_COMMIT=faecb196815e248d3ecfb03c680a4507229c2a56   # upstream v1.20.2 tag
mkdir -p "$BIN"
cd "$SRC"
for b in "${BINARIES[@]}"; do
  [ -x "$BIN/$b" ] && { step "$b cached"; continue; }
  t=$(date +%s)
  step "make WHAT=cmd/$b"
  make WHAT="cmd/$b" >"$CACHE/build-$b.log" 2>&1 || { tail -40 "$CACHE/build-$b.log" >&2; exit 1; }
  out=$(find "$SRC/_output" -type f -name "$b" -perm -u+x | head -1)
  install -m 755 "$out" "$BIN/$b"
  step "$b built in $(( $(date +%s) - t ))s"
done
"$BIN/kube-apiserver" --version
touch "$BIN/.complete"
step "done: $BIN"
prune "${1:-}"
