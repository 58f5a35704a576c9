#!/usr/bin/env bash
# A ReadWriteMany PersistentVolumeClaim backed by a host directory that pods on both nodes see (there is
# no storage provisioner in the e2e cluster). For the chart's storage.sharedClaimName.
#   e2e/shared-pvc.sh NAMESPACE [CLAIM [HOST_DIR]]      create PV "e2e-NAMESPACE-CLAIM" + bound PVC
#   e2e/shared-pvc.sh --delete NAMESPACE [CLAIM]          delete both (the host directory is kept)
# CLAIM defaults to telefork-shared, HOST_DIR to /var/lib/telefork-e2e/shared/NAMESPACE-CLAIM.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
export KUBECONFIG=${KUBECONFIG:-$KUBECONFIG_ADMIN}

if [ "${1:-}" = --delete ]; then
  ns=$2 claim=${3:-telefork-shared}
  kubectl delete pvc "$claim" -n "$ns" --ignore-not-found --wait=false >/dev/null
  kubectl delete pv "e2e-$ns-$claim" --ignore-not-found --wait=false >/dev/null
  exit 0
fi
ns=${1:?usage: $0 NAMESPACE [CLAIM [HOST_DIR]]} claim=${2:-telefork-shared}
dir=${3:-$SHARED_DIR/$ns-$claim}
mkdir -p "$dir"
kubectl apply -f - >/dev/null <<YAML
apiVersion: v1
kind: PersistentVolume
metadata: {name: e2e-$ns-$claim, labels: {telefork.io/e2e: shared}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: ""
  claimRef: {namespace: $ns, name: $claim}
  hostPath: {path: $dir, type: Directory}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: $claim, namespace: $ns}
spec:
  accessModes: [ReadWriteMany]
  storageClassName: ""
  volumeName: e2e-$ns-$claim
  resources: {requests: {storage: 10Gi}}
YAML
for i in $(seq 100); do
  [ "$(kubectl get pvc "$claim" -n "$ns" -o jsonpath='{.status.phase}')" = Bound ] && { echo "pvc $ns/$claim Bound -> host $dir"; exit 0; }
  sleep 0.2
done
echo "pvc $ns/$claim not Bound" >&2; exit 1
