# Shared settings for the e2e scripts (sourced, not run).
E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KUBE_VERSION=v1.20.2
CACHE_ROOT=${KUBE_E2E_CACHE:-/var/cache/telefork-e2e}
KUBE_BIN=$CACHE_ROOT/kube-$KUBE_VERSION/bin
IMAGE_CACHE=$CACHE_ROOT/images
STATE=${KUBE_E2E_STATE:-/var/lib/telefork-e2e}   # cluster state, logs, kubeconfig, shared dir
SHARED_DIR=$STATE/shared                           # hostPath visible from pods on both nodes
KUBECONFIG_ADMIN=$STATE/admin.kubeconfig            # reaches the API server from the host
API_LOCAL_PORT=${KUBE_E2E_API_PORT:-16443}          # host 127.0.0.1 port forwarded into netns cp
API_ADDR=10.213.0.1                                 # cp bridge address; API server on :6443
NODES=(node-a node-b)
declare -A NODE_IP=([node-a]=10.213.0.11 [node-b]=10.213.0.12)
declare -A NODE_SUBNET=([node-a]=10.213.1.0/24 [node-b]=10.213.2.0/24)
declare -A NODE_VETH=([node-a]=veth-a [node-b]=veth-b)
node_dir() { echo "$STATE/nodes/$1"; }
node_sock() { echo "$STATE/nodes/$1/containerd.sock"; }
PAUSE_IMAGE=docker.io/telefork-e2e/pause:1
COUNTER_IMAGE=docker.io/telefork-e2e/counter:1
# Global sysctls kubelet writes (setupKernelTunables): recorded before up, restored by down.
KUBELET_SYSCTLS=(vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys kernel.keys.root_maxbytes)
# Host mount points the node holders bind node-private directories over (created if missing).
NODE_MOUNTPOINTS=(/var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/containerd /run/netns /var/lib/telefork)
# /var/lib/telefork (the agent's node-local image directory) is node-private too: inside node-X it is
# $STATE/nodes/node-X/telefork on the host, so "node-local" really differs between the two nodes.

_t0=${_t0:-$(date +%s%3N)}
elapsed() { local d=$(( $(date +%s%3N) - ${1:-$_t0} )); printf '%d.%01d' $((d/1000)) $((d%1000/100)); }
log() { printf '[%s +%ss] %s\n' "$(basename "$0")" "$(elapsed)" "$*"; }
die() { log "ERROR: $*"; exit 1; }
