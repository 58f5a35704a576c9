#!/usr/bin/env bash
# Proves the e2e cluster works: a namespace; the counter pod pinned to node-a and one pinned to
# node-b (imagePullPolicy: Never); a privileged hostPID DaemonSet on both nodes; all Running; pods
# on both nodes write into one hostPath directory that the host sees, while /var/lib/telefork is
# node-private; pod -> Service -> API server; CRDs; logs and exec go through the
# API server to the kubelets. Prints timings; deletes its objects.   Usage: e2e/smoke.sh
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export KUBECONFIG=$KUBECONFIG_ADMIN
NS=telefork-e2e-smoke
DIR=$SHARED_DIR/smoke
k() { kubectl "$@"; }
cleanup() {
  k delete crd smokeprobes.e2e.telefork.io --ignore-not-found --wait=false >/dev/null 2>&1 || true
  k delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  "$E2E_DIR/shared-pvc.sh" --delete "$NS" smoke-shared >/dev/null 2>&1 || true
}
trap 'log "FAILED"; k get pods -n "$NS" -o wide 2>/dev/null; k get events -n "$NS" 2>/dev/null | tail -20; cleanup' ERR

T=$(date +%s%3N)
[ "$(k get nodes --request-timeout=5s -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' 2>/dev/null | grep -c True)" = 2 ] \
  || { log "the cluster is not up with 2 Ready nodes: run e2e/cluster.sh up"; exit 1; }
k get nodes -o wide
rm -rf "$DIR"; mkdir -p "$DIR"
k create namespace "$NS" >/dev/null
for i in $(seq 100); do k get serviceaccount default -n "$NS" >/dev/null 2>&1 && break; sleep 0.2; done
log "namespace $NS ready ($(elapsed "$T")s)"

t=$(date +%s%3N)
"$E2E_DIR/shared-pvc.sh" "$NS" smoke-shared "$DIR" >/dev/null   # RWX PVC on the same host directory
pod() {  # NAME NODE VOLUME-SOURCE
  cat <<YAML
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $NS, labels: {app: counter}}
spec:
  nodeSelector: {kubernetes.io/hostname: $2}
  terminationGracePeriodSeconds: 1
  containers:
  - name: counter
    image: ${COUNTER_IMAGE#docker.io/}
    imagePullPolicy: Never
    args: ["/data/$1.log"]
    volumeMounts: [{name: shared, mountPath: /data}]
  volumes:
  - name: shared
    $3
---
YAML
}
{ pod counter-a node-a "hostPath: {path: $DIR, type: Directory}"
  pod counter-b node-b "persistentVolumeClaim: {claimName: smoke-shared}"; cat <<YAML
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: privileged-hostpid, namespace: $NS}
spec:
  selector: {matchLabels: {app: privileged-hostpid}}
  template:
    metadata: {labels: {app: privileged-hostpid}}
    spec:
      hostPID: true
      terminationGracePeriodSeconds: 1
      containers:
      - name: probe
        image: ${COUNTER_IMAGE#docker.io/}
        imagePullPolicy: Never
        securityContext: {privileged: true}
        env: [{name: NODE_NAME, valueFrom: {fieldRef: {fieldPath: spec.nodeName}}}]
        args: ["/node-local/ds-\$(NODE_NAME).log"]
        volumeMounts: [{name: node-local, mountPath: /node-local}]
      volumes:
      - name: node-local
        hostPath: {path: /var/lib/telefork/e2e-smoke, type: DirectoryOrCreate}
YAML
} | k apply -f - >/dev/null
k wait --for=condition=Ready pod --all -n "$NS" --timeout=120s >/dev/null 2>&1 || true
# the DaemonSet's pods may not exist yet when the first wait starts
for i in $(seq 150); do
  [ "$(k get pods -n "$NS" --no-headers 2>/dev/null | awk '$3 == "Running"' | wc -l)" = 4 ] && break; sleep 0.2
done
k wait --for=condition=Ready pod --all -n "$NS" --timeout=60s >/dev/null
log "4 pods Running ($(elapsed "$t")s): 2 counters + DaemonSet on both nodes"
k get pods -n "$NS" -o wide

# placement and pod addresses come from the right node
for p in counter-a:node-a:10.213.1. counter-b:node-b:10.213.2.; do
  IFS=: read -r name node prefix <<<"$p"
  got=$(k get pod "$name" -n "$NS" -o jsonpath='{.spec.nodeName} {.status.podIP}')
  [[ "$got" == "$node $prefix"* ]] || { log "$name: expected $node/$prefix*, got $got"; false; }
done
ds=$(k get pods -n "$NS" -l app=privileged-hostpid -o jsonpath='{range .items[*]}{.spec.nodeName}{" "}{end}')
[[ "$ds" == *node-a* && "$ds" == *node-b* ]] || { log "DaemonSet not on both nodes: $ds"; false; }

# shared hostPath: files written by pods on both nodes, seen in one host directory
sleep 3
for f in counter-a.log counter-b.log; do
  [ -s "$DIR/$f" ] || { log "missing $DIR/$f"; ls -la "$DIR"; false; }
done
log "one host directory written from both nodes (node-a: hostPath, node-b: RWX PVC): $(cd "$DIR" && for f in *.log; do printf '%s=%s ' "$f" "$(tail -1 "$f")"; done)"
# /var/lib/telefork is node-private: each node's DaemonSet pod wrote only into its own node's copy
for n in node-a node-b; do
  o=$([ $n = node-a ] && echo node-b || echo node-a)
  [ -s "$STATE/nodes/$n/telefork/e2e-smoke/ds-$n.log" ] || { log "missing ds-$n.log in $n's /var/lib/telefork"; false; }
  [ ! -e "$STATE/nodes/$n/telefork/e2e-smoke/ds-$o.log" ] || { log "$o's file visible on $n"; false; }
done
[ ! -e /var/lib/telefork/e2e-smoke ] || { log "/var/lib/telefork/e2e-smoke leaked to the host"; false; }
log "hostPath /var/lib/telefork is node-private (host: $STATE/nodes/node-X/telefork)"

# logs and exec through the API server -> kubelet -> containerd stream server
t=$(date +%s%3N)
k logs counter-b -n "$NS" --tail=2 | tr '\n' ' '; echo
[ "$(k exec counter-a -n "$NS" -- /counter /dev/null 41 1)" = 41 ] || { log "exec failed"; false; }
log "kubectl logs + exec work ($(elapsed "$t")s)"

# host view: container processes sit in the node's cgroup root; hostPID shares the host PID namespace
cpid() {  # POD -> host PID of its first container
  local id; id=$(k get pod "$1" -n "$NS" -o jsonpath='{.status.containerStatuses[0].containerID}'); id=${id#*://}
  grep -l "$id" /proc/[0-9]*/cgroup 2>/dev/null | head -1 | cut -d/ -f3
}
pa=$(cpid counter-a); dsa=$(k get pods -n "$NS" -l app=privileged-hostpid --field-selector spec.nodeName=node-a -o name | cut -d/ -f2)
pd=$(cpid "$dsa")
grep -q ':memory:/node-a/kubepods/' "/proc/$pa/cgroup" || { log "counter-a (pid $pa) not under /node-a/kubepods"; false; }
[ "$(readlink "/proc/$pd/ns/pid")" = "$(readlink /proc/self/ns/pid)" ] || { log "DaemonSet pod not in the host PID namespace"; false; }
[ "$(readlink "/proc/$pa/ns/pid")" != "$(readlink /proc/self/ns/pid)" ] || { log "counter-a unexpectedly in the host PID namespace"; false; }
log "host sees counter-a as pid $pa in $(grep ':memory:' "/proc/$pa/cgroup" | cut -d: -f3 | cut -c1-40)...; DaemonSet pod shares the host PID namespace"

# from inside counter-b's network namespace: the kubernetes Service (DNAT to the API server, TLS with
# the cluster CA) and a route to node-a's pod subnet; nothing else is routed
pb=$(cpid counter-b)
code=$(nsenter --net="/proc/$pb/ns/net" curl -s -m 5 --cacert "$STATE/pki/ca.crt" -o /dev/null -w '%{http_code}' https://10.96.0.1/healthz || true)
[ "$code" = 200 ] || { log "pod -> https://10.96.0.1/healthz gave $code"; false; }
ipa=$(k get pod counter-a -n "$NS" -o jsonpath='{.status.podIP}')
rc=0; nsenter --net="/proc/$pb/ns/net" curl -s -m 5 "http://$ipa:1/" || rc=$?
[ "$rc" = 7 ] || { log "pod on node-b -> $ipa:1 (pod on node-a): curl rc $rc, expected 7 (refused)"; false; }
log "pod network: Service 10.96.0.1:443 -> API server OK; node-b pod -> node-a pod $ipa routed"

# custom resources (the vendored reflect2 1.0.1 crashed kube-apiserver here under Go 1.19)
t=$(date +%s%3N)
k apply -f - >/dev/null <<YAML
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: smokeprobes.e2e.telefork.io}
spec:
  group: e2e.telefork.io
  scope: Namespaced
  names: {plural: smokeprobes, singular: smokeprobe, kind: SmokeProbe}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
YAML
k wait --for=condition=Established crd/smokeprobes.e2e.telefork.io --timeout=30s >/dev/null
echo "{\"apiVersion\":\"e2e.telefork.io/v1\",\"kind\":\"SmokeProbe\",\"metadata\":{\"name\":\"p1\",\"namespace\":\"$NS\"},\"spec\":{\"n\":1}}" | k apply -f - >/dev/null
k get smokeprobe p1 -n "$NS" >/dev/null
k delete crd smokeprobes.e2e.telefork.io >/dev/null
k get --raw /healthz >/dev/null
log "CRD + custom resource created and deleted, API server alive ($(elapsed "$t")s)"

# Pods first: the namespace controller backs off exponentially while pods remain (80 s seen). A
# graceful delete is proven by the containers' processes going away; the API objects then wait for
# kubelet 1.20's once-a-minute sandbox GC (up to 60 s), so they are force-removed after that.
t=$(date +%s%3N)
pids=$(for p in $(k get pods -n "$NS" -o name | cut -d/ -f2); do cpid "$p"; done)
k delete daemonset --all -n "$NS" --wait=false >/dev/null
k delete pods --all -n "$NS" --grace-period=1 --wait=false >/dev/null
for i in $(seq 300); do
  alive=0; for p in $pids; do [ -d "/proc/$p" ] && alive=1; done
  [ $alive = 0 ] && break; sleep 0.2
done
[ $alive = 0 ] || { log "containers still running 60 s after a graceful delete"; false; }
log "graceful delete: all 4 containers stopped ($(elapsed "$t")s)"
k delete pods --all -n "$NS" --grace-period=0 --force >/dev/null 2>&1 || true
k delete namespace "$NS" --timeout=120s >/dev/null
"$E2E_DIR/shared-pvc.sh" --delete "$NS" smoke-shared
rm -rf "$DIR" "$STATE"/nodes/*/telefork/e2e-smoke
trap - ERR
log "objects deleted ($(elapsed "$t")s)"
log "SMOKE OK in $(elapsed "$T")s"
