#!/usr/bin/env bash
# A real two-node Kubernetes v1.20.2 cluster on this one machine, for end-to-end tests.
#
#   e2e/cluster.sh up       clear leftovers of an earlier run, then start etcd + control plane
#                           (netns cp) and two nodes (node-a, node-b: own netns, mount ns, cgroup
#                           root, containerd, kubelet); import the base images; wait for Ready
#   e2e/cluster.sh down     tear everything down, restore the sysctls kubelet writes
#   e2e/cluster.sh status   what is running
#
# After `up`: export KUBECONFIG=/var/lib/telefork-e2e/admin.kubeconfig (host side, 127.0.0.1:16443
# forwarded into netns cp). Inside netns cp or a node netns use .../admin-cp.kubeconfig.
# Needs the binaries from e2e/build-kube.sh. Only loopback and harness-made namespaces are used;
# no default route exists anywhere.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

RUN=$STATE/run        # pid files
LOGS=$STATE/logs
PKI=$STATE/pki
CP=$STATE/cp

# ------------------------------------------------------------------------------------------ helpers
pid_alive() {  # running and not a zombie (reparented processes may wait a while to be reaped)
  local st
  [ -n "${1:-}" ] && read -r _ _ st _ 2>/dev/null < "/proc/$1/stat" && [ "$st" != Z ]
}
pidfile_pid() {  # the pid file's PID, only if that process is still one of ours (PIDs get reused)
  local p comm arr
  p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 0
  read -r comm 2>/dev/null < "/proc/$p/comm" || return 0
  case "$comm" in
    etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|containerd|python3*|sleep|nsenter|unshare|bash) ;;
    *) return 0 ;;
  esac
  mapfile -d '' arr 2>/dev/null < "/proc/$p/cmdline" || return 0
  [[ "${arr[*]}" == *"$STATE/"* ]] && echo "$p"
  return 0
}

# PIDs whose command line mentions $1 (a path of ours). Reads /proc directly: no pattern-matching
# tool that could match itself, never a broad process name.
pids_mentioning() {
  local p comm arr
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] || [ "$p" = "$BASHPID" ] && continue
    # only programs the harness starts (never a shell whose command text merely names the path);
    # builtins only: this runs often and the machine is busy
    read -r comm 2>/dev/null < "/proc/$p/comm" || continue
    case "$comm" in
      etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|containerd|containerd-shim|runc|python3*|sleep|kubectl|ctr|nsenter|unshare) ;;
      *) continue ;;
    esac
    mapfile -d '' arr 2>/dev/null < "/proc/$p/cmdline" || continue
    [[ "${arr[*]}" == *"$1"* ]] && echo "$p"
  done
  return 0
}

# stop PIDs: SIGTERM, wait up to $2 s, then SIGKILL (kube-apiserver can linger 40 s after SIGTERM)
stop_pids() {
  local pids=($1) grace=${2:-5} i p alive
  ((${#pids[@]})) || return 0
  kill -TERM "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    alive=0; for p in "${pids[@]}"; do pid_alive "$p" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "${pids[@]}" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive=0; for p in "${pids[@]}"; do pid_alive "$p" && alive=1; done
    ((alive)) || return 0
    sleep 0.1
  done
}

# start a background process in its own session; $1 name (pid + log file), rest the command
start_bg() {
  local name=$1; shift
  setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  echo $! > "$RUN/$name.pid"
}

cgroup_hierarchies() {  # [v1]: only the cgroup v1 hierarchies
  awk -v v1="${1:-}" '$3 == "cgroup" || ($3 == "cgroup2" && v1 == "") {print $2}' /proc/self/mounts | grep '^/sys/fs/cgroup/'
}

kubectl_admin() { kubectl --kubeconfig "$KUBECONFIG_ADMIN" "$@"; }

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 5; i++)); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "timed out after ${secs}s waiting for $what"
}

# ------------------------------------------------------------------------------------------ down
down() {
  local quiet=${1:-} node n pids h
  local t=$(date +%s%3N)
  # 1. delete workload objects through the API while the kubelets still run (graceful path)
  if [ -f "$KUBECONFIG_ADMIN" ] && pid_alive "$(pidfile_pid kube-apiserver)" && pid_alive "$(pidfile_pid apiforward)" \
     && kubectl_admin get --raw /healthz --request-timeout=3s >/dev/null 2>&1; then
    local nss; nss=$(kubectl_admin get ns -o name --request-timeout=5s 2>/dev/null | grep -vE '^namespace/(default|kube-system|kube-public|kube-node-lease)$' || true)
    if [ -n "$nss" ]; then
      kubectl_admin delete $nss --wait=false --request-timeout=10s >/dev/null 2>&1 || true
    fi
    kubectl_admin delete daemonsets,deployments,replicasets,statefulsets,jobs,pods --all -n default --grace-period=1 --wait=false --request-timeout=10s >/dev/null 2>&1 || true
    # bounded: kubelet 1.20 only reports a pod gone after its once-a-minute sandbox GC; whatever is
    # left is killed below anyway
    for ((n = 0; n < 30; n++)); do
      [ -z "$(kubectl_admin get pods -A -o name --request-timeout=5s 2>/dev/null)" ] && break
      sleep 0.3
    done
    log "down: API objects deleted ($(elapsed "$t")s)"
  fi
  step() { [ -n "$quiet" ] || log "down: $1 ($(elapsed "$t")s)"; }
  # 2. kubelets
  for node in "${NODES[@]}"; do
    stop_pids "$(pidfile_pid kubelet-$node) $(pids_mentioning "$(node_dir "$node")/kubelet-config.yaml")" 10
  done
  step "kubelets stopped"
  # 3. every process left in the node cgroups (pod containers), then containerd and its shims
  for node in "${NODES[@]}"; do
    for ((n = 0; n < 5; n++)); do
      pids=$(cat $(find /sys/fs/cgroup/*/"$node" -name cgroup.procs 2>/dev/null) 2>/dev/null | sort -u | tr '\n' ' ')
      [ -z "${pids// /}" ] && break
      kill -KILL $pids 2>/dev/null || true
      sleep 0.3
    done
    stop_pids "$(pidfile_pid containerd-$node) $(pids_mentioning "$(node_sock "$node")") $(pids_mentioning "$(node_dir "$node")/containerd.toml")" 5
  done
  step "pod processes, containerd and shims stopped"
  # 4. holders: their mount namespaces (and every mount made in them) go with them
  for node in "${NODES[@]}"; do
    stop_pids "$(pidfile_pid holder-$node) $(pids_mentioning "$STATE/holder-$node")" 3
  done
  # 5. node cgroup directories, depth first
  for node in "${NODES[@]}"; do
    for h in $(cgroup_hierarchies); do
      [ -d "$h/$node" ] || continue
      for ((n = 0; n < 20; n++)); do
        find "$h/$node" -depth -type d -exec rmdir {} + 2>/dev/null || true
        [ -d "$h/$node" ] || break
        sleep 0.2
      done
      [ -d "$h/$node" ] && log "WARNING: could not remove $h/$node"
    done
  done
  step "holders stopped, node cgroups removed"
  # 6. control plane, forwarder
  stop_pids "$(pidfile_pid kube-scheduler) $(pidfile_pid kube-controller-manager) $(pids_mentioning "$CP/kube-scheduler") $(pids_mentioning "$CP/kube-controller-manager")" 5
  stop_pids "$(pidfile_pid kube-apiserver) $(pids_mentioning "$PKI/apiserver.crt")" 3
  stop_pids "$(pidfile_pid etcd) $(pids_mentioning "$CP/etcd")" 5
  stop_pids "$(pidfile_pid apiforward) $(pids_mentioning "$RUN/apiforward.pid")" 2
  # anything else of ours still alive (e.g. kubectl on the admin kubeconfig)
  stop_pids "$(pids_mentioning "$STATE/")" 3
  step "control plane and forwarder stopped"
  # 7. network namespaces (veths, bridges, in-namespace iptables rules go with them)
  for n in "${NODES[@]}" cp; do
    ip netns del "$n" 2>/dev/null || true
  done
  # 8. mount points the harness created on the host; /run/netns's self bind mount from `ip netns add`
  if [ -f "$STATE/created-mountpoints" ]; then
    if [ -z "$(ls -A /run/netns 2>/dev/null)" ] && grep -qx /run/netns "$STATE/created-mountpoints" && mountpoint -q /run/netns; then
      umount /run/netns 2>/dev/null || true
    fi
    while read -r h; do rmdir "$h" 2>/dev/null || true; done < <(sort -r "$STATE/created-mountpoints")
    rm -f "$STATE/created-mountpoints"
  fi
  # 9. sysctls kubelet changed
  if [ -f "$STATE/sysctls.saved" ]; then
    while read -r k v; do sysctl -q -w "$k=$v" >/dev/null 2>&1 || log "WARNING: could not restore $k=$v"; done < "$STATE/sysctls.saved"
    rm -f "$STATE/sysctls.saved"
  fi
  rm -f "$RUN"/*.pid
  [ -n "$quiet" ] || log "down: done in $(elapsed "$t")s"
}

# ------------------------------------------------------------------------------------------ up
gen_pki() {
  mkdir -p "$PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 30 -subj /CN=telefork-e2e-ca 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -keyout apiserver.key -out apiserver.csr -subj /CN=kube-apiserver 2>/dev/null
    printf '%s\n' "subjectAltName=IP:$API_ADDR,IP:10.96.0.1,IP:127.0.0.1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost" \
      'basicConstraints=CA:FALSE' 'keyUsage=digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' > apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out apiserver.crt -days 30 -extfile apiserver.ext 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    chmod 600 *.key
  )
  ADMIN_TOKEN=$(openssl rand -hex 16)
  {
    echo "$ADMIN_TOKEN,admin,admin,\"system:masters\""
    for node in "${NODES[@]}"; do echo "$(openssl rand -hex 16),system:node:$node,$node,\"system:nodes\""; done
  } > "$PKI/tokens.csv"
  chmod 600 "$PKI/tokens.csv"
}

write_kubeconfig() {  # FILE SERVER TOKEN USER
  cat > "$1" <<KC
apiVersion: v1
kind: Config
clusters:
- name: telefork-e2e
  cluster:
    server: $2
    certificate-authority-data: $(base64 -w0 < "$PKI/ca.crt")
users:
- name: $4
  user:
    token: $3
contexts:
- name: telefork-e2e
  context: {cluster: telefork-e2e, user: $4}
current-context: telefork-e2e
KC
  chmod 600 "$1"
}

setup_network() {
  ip netns add cp
  ip -n cp link set lo up
  ip -n cp link add br0 type bridge
  ip -n cp addr add "$API_ADDR/24" dev br0
  ip -n cp link set br0 up
  local node other
  for node in "${NODES[@]}"; do
    ip netns add "$node"
    ip -n "$node" link set lo up
    ip -n cp link add "${NODE_VETH[$node]}" type veth peer name eth0 netns "$node"
    ip -n cp link set "${NODE_VETH[$node]}" master br0 up
    ip -n "$node" addr add "${NODE_IP[$node]}/24" dev eth0
    ip -n "$node" link set eth0 up
    ip -n cp route add "${NODE_SUBNET[$node]}" via "${NODE_IP[$node]}"
    for other in "${NODES[@]}"; do
      [ "$other" = "$node" ] || ip -n "$node" route add "${NODE_SUBNET[$other]}" via "${NODE_IP[$other]}"
    done
    # Service range into cp, so that hostNetwork clients get past routing to the OUTPUT DNAT below
    ip -n "$node" route add 10.96.0.0/12 via "$API_ADDR"
    nsenter --net="/run/netns/$node" sysctl -q -w net.ipv4.ip_forward=1
    # the `kubernetes` Service (10.96.0.1:443) without kube-proxy: one DNAT rule per node namespace
    nsenter --net="/run/netns/$node" iptables -t nat -A PREROUTING -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination "$API_ADDR:6443"
    nsenter --net="/run/netns/$node" iptables -t nat -A OUTPUT -d 10.96.0.1/32 -p tcp --dport 443 -j DNAT --to-destination "$API_ADDR:6443"
  done
  nsenter --net=/run/netns/cp sysctl -q -w net.ipv4.ip_forward=1
}

start_control_plane() {
  mkdir -p "$CP"/{etcd,kube-apiserver,kube-controller-manager,kube-scheduler}
  start_bg etcd nsenter --net=/run/netns/cp /usr/bin/etcd --name e2e --data-dir "$CP/etcd" \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster e2e=http://127.0.0.1:2380 --listen-metrics-urls=
  start_bg kube-apiserver nsenter --net=/run/netns/cp "$KUBE_BIN/kube-apiserver" \
    --etcd-servers=http://127.0.0.1:2379 \
    --bind-address=0.0.0.0 --secure-port=6443 --insecure-port=0 --advertise-address="$API_ADDR" \
    --cert-dir="$CP/kube-apiserver" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" --token-auth-file="$PKI/tokens.csv" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --service-cluster-ip-range=10.96.0.0/12 --allow-privileged=true \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --kubelet-preferred-address-types=InternalIP --profiling=false --v=1
  local t=$(date +%s%3N)
  wait_for 90 "kube-apiserver /readyz" nsenter --net=/run/netns/cp kubectl --kubeconfig "$STATE/admin-cp.kubeconfig" get --raw /readyz --request-timeout=2s
  log "kube-apiserver ready ($(elapsed "$t")s after start)"
  start_bg kube-controller-manager nsenter --net=/run/netns/cp "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig="$STATE/admin-cp.kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --port=0 \
    --cert-dir="$CP/kube-controller-manager" \
    --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
    --use-service-account-credentials=false --allocate-node-cidrs=false \
    --flex-volume-plugin-dir="$CP/kube-controller-manager/flexvolume" --v=1
  start_bg kube-scheduler nsenter --net=/run/netns/cp "$KUBE_BIN/kube-scheduler" \
    --kubeconfig="$STATE/admin-cp.kubeconfig" --leader-elect=false --bind-address=127.0.0.1 --port=0 \
    --cert-dir="$CP/kube-scheduler" --v=1
}

prepare_node() {
  local node=$1 N h; N=$(node_dir "$node")
  mkdir -p "$N"/{containerd/root,containerd/state,containerd/opt,runc,kubelet,log-pods,log-containers,cni/net.d,cni/lib,run-containerd,netns,telefork,cgroup-tmp}
  # cgroup root /<node> in every hierarchy (kubelet refuses a cgroupRoot that does not exist)
  for h in $(cgroup_hierarchies v1); do
    mkdir -p "$h/$node"
    if [ -f "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" > "$h/$node/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h/$node/cpuset.mems"
    fi
  done
  echo "nameserver $API_ADDR" > "$N/resolv.conf"   # no DNS server: lookups fail fast inside cp
  cat > "$N/cni/net.d/10-telefork-e2e.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "telefork-e2e",
  "plugins": [{
    "type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
    "ipam": {
      "type": "host-local", "dataDir": "/var/lib/cni/networks",
      "ranges": [[{"subnet": "${NODE_SUBNET[$node]}"}]],
      "routes": [{"dst": "10.213.0.0/16"}, {"dst": "10.96.0.0/12"}]
    }
  }]
}
CNI
  cat > "$N/containerd.toml" <<TOML
version = 2
root = "$N/containerd/root"
state = "$N/containerd/state"
[grpc]
  address = "$N/containerd.sock"
[ttrpc]
  address = "$N/containerd.sock.ttrpc"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$N/containerd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$PAUSE_IMAGE"
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_tls_streaming = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "$N/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$N/cni/net.d"
TOML
  cat > "$N/kubelet-config.yaml" <<KCFG
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
cgroupDriver: cgroupfs
cgroupRoot: /$node
failSwapOn: false
address: ${NODE_IP[$node]}
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: true}
  webhook: {enabled: false}
authorization: {mode: AlwaysAllow}
resolvConf: $N/resolv.conf
clusterDomain: cluster.local
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%"}
runtimeRequestTimeout: 2m
KCFG
  local token; token=$(awk -F, -v u="system:node:$node" '$2 == u {print $1}' "$PKI/tokens.csv")
  write_kubeconfig "$N/kubelet.kubeconfig" "https://$API_ADDR:6443" "$token" "$node"
}

start_holder() {
  local node=$1 N; N=$(node_dir "$node")
  rm -f "$N/holder.ready"
  # netns of the node + a private mount namespace; fresh sysfs (shows the node's interfaces) with the
  # host's cgroup mounts re-attached; node-private directories over the paths kubelet/containerd/CNI
  # write to outside their configured roots.
  start_bg "holder-$node" nsenter --net="/run/netns/$node" unshare -m --propagation private bash -c "
    set -e
    mount --rbind /sys/fs/cgroup '$N/cgroup-tmp'
    mount -t sysfs sysfs /sys
    mount --rbind '$N/cgroup-tmp' /sys/fs/cgroup
    umount -l '$N/cgroup-tmp'
    # hide the hybrid cgroup2 mount: runc would create pod dirs there that kubelet 1.20 (v1 only)
    # never removes, and the pod then stays Terminating: pod cgroup still exists
    if mountpoint -q /sys/fs/cgroup/unified; then umount /sys/fs/cgroup/unified; fi
    mount --bind '$N/kubelet' /var/lib/kubelet
    mount --bind '$N/log-pods' /var/log/pods
    mount --bind '$N/log-containers' /var/log/containers
    mount --bind '$N/cni/lib' /var/lib/cni
    mount --bind '$N/run-containerd' /run/containerd
    mount --bind '$N/netns' /run/netns
    mount --bind '$N/telefork' /var/lib/telefork
    touch '$N/holder.ready'
    exec -a '$STATE/holder-$node' sleep infinity"
  wait_for 10 "holder of $node" test -f "$N/holder.ready"
}

start_node() {
  local node=$1 N holder; N=$(node_dir "$node"); holder=$(pidfile_pid "holder-$node")
  start_bg "containerd-$node" nsenter -t "$holder" -m -n /usr/bin/containerd --config "$N/containerd.toml"
  wait_for 30 "containerd of $node" ctr -a "$(node_sock "$node")" version
}

start_kubelet() {
  local node=$1 N holder; N=$(node_dir "$node"); holder=$(pidfile_pid "holder-$node")
  start_bg "kubelet-$node" nsenter -t "$holder" -m -n "$KUBE_BIN/kubelet" \
    --config="$N/kubelet-config.yaml" --kubeconfig="$N/kubelet.kubeconfig" \
    --container-runtime=remote --container-runtime-endpoint="unix://$(node_sock "$node")" \
    --image-service-endpoint="unix://$(node_sock "$node")" --runtime-cgroups= \
    --pod-infra-container-image="$PAUSE_IMAGE" \
    --hostname-override="$node" --node-ip="${NODE_IP[$node]}" --root-dir=/var/lib/kubelet \
    --volume-plugin-dir=/var/lib/kubelet/volume-plugins \
    --node-labels="telefork.io/e2e-node=$node" --v=${KUBELET_V:-2}
}

up() {
  [ -x "$KUBE_BIN/kube-apiserver" ] && [ -x "$KUBE_BIN/kubelet" ] || die "no binaries in $KUBE_BIN: run e2e/build-kube.sh"
  command -v kubectl >/dev/null || die "kubectl not on PATH"
  local t=$(date +%s%3N) node k h
  # leftovers of an interrupted earlier run (processes, cgroups, namespaces, mount points, sysctls)
  down quiet
  "$E2E_DIR/check-clean.sh" >/dev/null 2>&1 || { "$E2E_DIR/check-clean.sh" --absolute || die "leftovers remain after cleanup (see above)"; }
  log "leftovers cleared ($(elapsed "$t")s)"
  find "$STATE" -mindepth 1 -maxdepth 1 ! -name baseline -exec rm -rf {} + 2>/dev/null || true
  mkdir -p "$STATE" "$RUN" "$LOGS" "$SHARED_DIR"
  "$E2E_DIR/check-clean.sh" --record >/dev/null
  for k in "${KUBELET_SYSCTLS[@]}"; do echo "$k $(sysctl -n "$k")"; done > "$STATE/sysctls.saved"
  : > "$STATE/created-mountpoints"
  for h in "${NODE_MOUNTPOINTS[@]}"; do
    [ -e "$h" ] || { mkdir -p "$h"; echo "$h" >> "$STATE/created-mountpoints"; }
  done
  gen_pki
  write_kubeconfig "$STATE/admin-cp.kubeconfig" "https://$API_ADDR:6443" "$ADMIN_TOKEN" admin
  write_kubeconfig "$KUBECONFIG_ADMIN" "https://127.0.0.1:$API_LOCAL_PORT" "$ADMIN_TOKEN" admin
  setup_network
  log "network namespaces cp, ${NODES[*]} ready ($(elapsed "$t")s)"
  start_control_plane
  start_bg apiforward /usr/bin/python3 "$E2E_DIR/apiforward.py" "$API_LOCAL_PORT" /run/netns/cp "$API_ADDR" 6443 "$RUN/apiforward.pid"
  for node in "${NODES[@]}"; do prepare_node "$node"; start_holder "$node"; start_node "$node"; done
  log "containerd running on ${NODES[*]} ($(elapsed "$t")s)"
  "$E2E_DIR/images.sh" build >/dev/null
  "$E2E_DIR/images.sh" import >/dev/null
  log "base images imported ($(elapsed "$t")s)"
  for node in "${NODES[@]}"; do start_kubelet "$node"; done
  wait_for 30 "API server through 127.0.0.1:$API_LOCAL_PORT" kubectl_admin get --raw /healthz --request-timeout=2s
  local nready=0 i
  for ((i = 0; i < 120 * 2; i++)); do
    nready=$(kubectl_admin get nodes -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True || true)
    [ "$nready" = "${#NODES[@]}" ] && break
    for node in "${NODES[@]}"; do pid_alive "$(pidfile_pid kubelet-$node)" || die "kubelet of $node exited: tail $LOGS/kubelet-$node.log"; done
    sleep 0.5
  done
  [ "$nready" = "${#NODES[@]}" ] || die "nodes not Ready after 120s (logs in $LOGS)"
  wait_for 60 "default service account" kubectl_admin get serviceaccount default -n default
  log "cluster up: ${NODES[*]} Ready in $(elapsed "$t")s"
  echo "export KUBECONFIG=$KUBECONFIG_ADMIN   # shared hostPath dir: $SHARED_DIR; logs: $LOGS"
}

status() {
  local name p
  for p in "$RUN"/*.pid; do
    [ -f "$p" ] || { echo "no cluster state in $RUN"; break; }
    name=$(basename "$p" .pid)
    if pid_alive "$(cat "$p")"; then echo "running  $name (pid $(cat "$p"))"; else echo "DEAD     $name"; fi
  done
  echo "netns: $(ip netns list 2>/dev/null | awk '{print $1}' | tr '\n' ' ')"
  [ -f "$KUBECONFIG_ADMIN" ] && kubectl_admin get nodes -o wide --request-timeout=5s 2>/dev/null || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) status ;;
  _fn) shift; "$@" ;;   # debugging: run one internal function, e.g. `cluster.sh _fn down`
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
