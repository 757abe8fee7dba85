#!/usr/bin/env bash
# Regenerates test/fixtures/kubeadm/<version>/ from a real kubeadm (see that folder's README).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(bash "$root/scripts/testbed/build-binaries.sh")
for version in v1.34.4 v1.33.6; do
  scratch=$(mktemp -d)
  mkdir -p "$scratch/etc/kubernetes/pki" "$scratch/tmp"
  sed "s/\${VERSION}/$version/" "$root/test/fixtures/kubeadm/kubeadm-config.yaml" > "$scratch/tmp/cfg.yaml"
  "$bin/kubeadm" init phase control-plane all --config /tmp/cfg.yaml --rootfs "$scratch" >/dev/null
  "$bin/kubeadm" init phase etcd local --config /tmp/cfg.yaml --rootfs "$scratch" >/dev/null
  mkdir -p "$root/test/fixtures/kubeadm/$version"
  cp "$scratch"/etc/kubernetes/manifests/*.yaml "$root/test/fixtures/kubeadm/$version/"
  rm -rf "$scratch"
done
