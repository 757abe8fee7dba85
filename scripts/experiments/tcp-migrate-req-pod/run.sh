#!/usr/bin/env bash
# Issue 13, a throwaway check (docs/zero-loss-next.md): can a hostNetwork pod with no capability, no privilege and a
# read-only root file system set the node's net.ipv4.tcp_migrate_req through a hostPath mount of its /proc/sys file?
# Brings the single-node test bed up, runs pod.yaml (it writes 1, reads it back, puts 0 back), prints its log and the
# node's value before and after, deletes the pod and takes the bed down.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bed="$here/../../testbed/testbed.sh"
bash "$bed" up >/dev/null
trap 'bash "$bed" down >/dev/null' EXIT
KUBECONFIG=$(bash "$bed" kubeconfig)
export KUBECONFIG
echo "node before: $(bash "$bed" exec cat /proc/sys/net/ipv4/tcp_migrate_req)"
kubectl apply -f "$here/pod.yaml" >/dev/null
kubectl -n kube-system wait pod/try-tcp-migrate-req --for=jsonpath='{.status.phase}'=Succeeded --timeout=60s >/dev/null
kubectl -n kube-system logs try-tcp-migrate-req
echo "node after: $(bash "$bed" exec cat /proc/sys/net/ipv4/tcp_migrate_req)"
kubectl -n kube-system delete pod try-tcp-migrate-req --wait=false >/dev/null
