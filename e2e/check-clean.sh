#!/usr/bin/env bash
# Is the host as it was before `cluster.sh up`?
#   e2e/check-clean.sh --record     write the baseline (cluster.sh up does this after clearing leftovers)
#   e2e/check-clean.sh              absolute checks + diff against the baseline; exit 1 listing leftovers
#   e2e/check-clean.sh --absolute   only the checks that need no baseline
# Compared: network namespaces, host links/addresses, mount table, cgroup directories (top
# level of every hierarchy), iptables-save (nft and legacy), the sysctls kubelet writes, well-known paths
# kubelet/containerd/CNI create; and no process of the harness may be left.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
BASE=$STATE/baseline
# differences that belong to other users of the machine, not to this harness (extended regex)
IGNORE=${CHECK_CLEAN_IGNORE:-/process_api/|/telefork-it-}

snapshot() {  # DIR
  local d=$1 h; mkdir -p "$d"
  ip netns list 2>/dev/null | awk '{print $1}' | sort > "$d/netns"
  ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort > "$d/links"
  ip -o addr show | awk '{print $2, $3, $4}' | sort > "$d/addrs"
  awk '{for (i = 7; $i != "-"; i++); print $5, $(i+1), $(i+2)}' /proc/self/mountinfo | sort > "$d/mounts"
  for h in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts); do
    find "$h" -mindepth 1 -maxdepth 1 -type d 2>/dev/null   # deeper levels belong to others (process_api/...)
  done | sort > "$d/cgroups"
  { for s in iptables-nft-save iptables-legacy-save ip6tables-nft-save ip6tables-legacy-save; do
      command -v "$s" >/dev/null && { echo "## $s"; "$s" 2>/dev/null | grep -v '^#' | sed 's/\[[0-9]*:[0-9]*\]/[]/'; }
    done; } > "$d/iptables"
  for k in "${KUBELET_SYSCTLS[@]}"; do echo "$k = $(sysctl -n "$k" 2>/dev/null)"; done > "$d/sysctls"
  for h in /etc/cni /opt/cni /etc/kubernetes /usr/libexec/kubernetes /var/lib/dockershim /var/lib/containerd \
           /var/run/kubernetes /run/kubernetes /run/containerd /var/lib/kubelet /var/log/pods /var/log/containers /var/lib/cni /run/netns; do
    [ -e "$h" ] && echo "$h"
  done > "$d/paths"
}

absolute() {  # leftovers, waiting up to 15 s for our exited processes to be reaped by their parent
  local out i
  for ((i = 0; i < 15; i++)); do
    out=$(absolute_once)
    grep -q '^zombie:' <<<"$out" || break
    sleep 1
  done
  [ -z "$out" ] || echo "$out"
}

absolute_once() {  # prints leftovers that are wrong whatever the baseline
  local p cmd n h
  for n in cp "${NODES[@]}"; do [ -e "/run/netns/$n" ] && echo "netns: $n"; done
  for h in $(awk '$3 == "cgroup" || $3 == "cgroup2" {print $2}' /proc/self/mounts); do
    for n in "${NODES[@]}" kubepods; do [ -d "$h/$n" ] && echo "cgroup: $h/$n"; done
  done
  grep -E " $STATE/| /var/lib/kubelet| /run/containerd| /var/log/pods" /proc/self/mountinfo | awk '{print "mount: " $5}'
  local comm arr st
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    read -r comm 2>/dev/null < "/proc/$p/comm" || continue
    case "$comm" in
      etcd|kube-apiserver|kube-controller|kube-scheduler|kubelet|containerd|containerd-shim|runc|pause|counter) ;;
      python3*|sleep) ;;
      *) continue ;;
    esac
    read -r _ _ st _ 2>/dev/null < "/proc/$p/stat" || continue
    if [ "$st" = Z ]; then echo "zombie: $p $comm (not reaped yet)"; continue; fi
    mapfile -d '' arr 2>/dev/null < "/proc/$p/cmdline" || continue
    cmd="${arr[*]}"
    case "$comm" in
      python3*|sleep) [[ "$cmd" == *"$STATE"* || "$cmd" == *apiforward.py* ]] && echo "process: $p $cmd" ;;
      *) echo "process: $p $cmd" ;;
    esac
  done
  ss -ltnH 2>/dev/null | awk -v port=":$API_LOCAL_PORT" '$4 ~ port"$" {print "listening: " $4}'
  return 0
}

case "${1:-}" in
  --record)
    rm -rf "$BASE"; snapshot "$BASE"; echo "baseline recorded in $BASE" ;;
  --absolute)
    out=$(absolute)
    [ -z "$out" ] && { echo "clean (absolute checks)"; exit 0; }
    echo "LEFTOVERS:"; echo "$out"; exit 1 ;;
  "")
    out=$(absolute)
    if [ -d "$BASE" ]; then
      now=$(mktemp -d); snapshot "$now"
      for f in netns links addrs mounts cgroups iptables sysctls paths; do
        d=$(diff "$BASE/$f" "$now/$f" | grep '^[<>]')
        # other sessions on this machine come and go (their test cgroups, exec cgroups): reported, not failed
        ign=$(grep -E -- "$IGNORE" <<<"$d" || true)
        [ -n "$ign" ] && notes+=$'\n'"$f: ignored (CHECK_CLEAN_IGNORE): "$(echo $ign)
        d=$(grep -vE -- "$IGNORE" <<<"$d" || true)
        [ -n "$d" ] && out+=$'\n'"$f differs from baseline (< baseline, > now):"$'\n'"$d"
      done
      rm -rf "$now"
    else
      out+=$'\n'"(no baseline in $BASE: only absolute checks done)"
      [ -n "$(absolute)" ] || { echo "clean (absolute checks only; no baseline)"; exit 0; }
    fi
    out=$(echo "$out" | sed '/^$/d')
    [ -n "${notes:-}" ] && echo "${notes#$'\n'}"
    [ -z "$out" ] && { echo "clean: host matches the baseline of $(stat -c %y "$BASE/netns" | cut -d. -f1)"; exit 0; }
    echo "LEFTOVERS:"; echo "$out"; exit 1 ;;
  *) echo "usage: $0 [--record|--absolute]" >&2; exit 2 ;;
esac
