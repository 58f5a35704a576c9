#!/usr/bin/env bash
# Try it on one machine (root): a two-node Kubernetes cluster with telefork installed by its Helm chart,
# a counter pod on node-a, and examples/migrate.yaml moving it to node-b while you watch its output.
#
#   e2e/try-it.sh          first run ~20 min (Kubernetes is built once from Debian's source package),
#                          then ~2 min; the cluster stays up afterwards to play with:
#     export KUBECONFIG=/var/lib/telefork-e2e/admin.kubeconfig
#     kubectl get mig,ckpt,rst,pods -o wide
#   e2e/cluster.sh down    when done (e2e/check-clean.sh then confirms the host is as before)
set -euo pipefail
E2E=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$E2E/.." && pwd)
source "$E2E/lib.sh"
export KUBECONFIG=$KUBECONFIG_ADMIN
IMG=$(mktemp -d /tmp/telefork-try.XXXXXX)
trap 'rm -rf "$IMG"' EXIT

log "building Kubernetes (cached after the first run), telefork's images and the counter's image"
"$E2E/build-kube.sh" >/dev/null
(cd "$REPO" && mvn -B -q -Pimages -DskipTests -pl agent,operator -am package)
cp "$REPO/agent/target/telefork-agent-image.tar" "$REPO/operator/target/telefork-operator-image.tar" "$IMG/"
"$E2E/workload-image.sh" "$IMG/counter-sh.tar"

log "starting the cluster: control plane, node-a and node-b"
"$E2E/cluster.sh" up
"$E2E/images.sh" import "$IMG/telefork-agent-image.tar" "$IMG/telefork-operator-image.tar" "$IMG/counter-sh.tar"
kubectl create namespace telefork-system >/dev/null
"$E2E/shared-pvc.sh" telefork-system telefork-shared

log "installing the chart (operator + agent DaemonSet, shared volume for migrations)"
(cd "$E2E" && mvn -B -q test-compile exec:java)
kubectl get pods -n telefork-system -o wide

log "a counter on node-a: it prints 0, 1, 2, ... once a second"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata: {name: counter, labels: {app: counter}}
spec:
  nodeName: node-a
  terminationGracePeriodSeconds: 2
  containers:
    - name: counter
      image: telefork-e2e/counter-sh:1
      imagePullPolicy: Never
      command: ["/counter", "/dev/null"]
      env: [{name: PATH, value: "/bin:/"}]
YAML
kubectl wait --for=condition=Ready pod/counter --timeout=120s >/dev/null
sleep 4
kubectl logs counter | tail -3 | sed 's/^/  counter on node-a: /'

log "kubectl apply -f examples/migrate.yaml (targetNode node-b)"
sed "s/OTHER_NODE/node-b/" "$REPO/examples/migrate.yaml" | kubectl apply -f -
for _ in $(seq 240); do
  phase=$(kubectl get mig counter-move -o jsonpath='{.status.phase}' 2>/dev/null || true)
  [ "$phase" = Succeeded ] || [ "$phase" = Failed ] && break
  sleep 0.5
done
kubectl get mig counter-move -o wide
if [ "$phase" != Succeeded ]; then
  kubectl describe mig counter-move
  die "the Migration did not succeed"
fi
target=$(kubectl get mig counter-move -o jsonpath='{.status.targetPod}')
log "the counter now runs in pod $target on $(kubectl get pod "$target" -o jsonpath='{.spec.nodeName}'), counting on:"
sleep 3
kubectl logs "$target" | sed 's/^/  counter on node-b: /'
log "the dump froze it $(kubectl get mig counter-move -o jsonpath='{.status.frozenMillis}') ms; down $(kubectl get mig counter-move -o jsonpath='{.status.downtimeMillis}') ms in all (stopped on node-a -> running on node-b); source pod deleted: $(kubectl get mig counter-move -o jsonpath='{.status.sourcePodDeleted}')"
log "the cluster stays up: export KUBECONFIG=$KUBECONFIG_ADMIN; e2e/cluster.sh down when done"
