#!/usr/bin/env bash
# Regenerates test/fixtures/kubeadm/<version>/: what a real kubeadm of each supported minor writes into
# /etc/kubernetes/manifests (`kubeadm init phase control-plane all` + `kubeadm init phase etcd local`, run with
# --rootfs into a scratch directory: no cluster, no root-owned paths touched). Each kubeadm is built by
# build-kubeadm.sh from the Go module proxy and cached outside the repository.
#   bash scripts/corpus/kubeadm-output.sh              # every version below
#   bash scripts/corpus/kubeadm-output.sh v1.30.14     # just these
# Also regenerates the corpus sets whose control plane is kubeadm's output for a public configuration
# (test/fixtures/corpus/*/.kubeadm-config.yaml, a dotfile: the kubelet and plan skip it).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
here="$root/scripts/corpus"
fixtures="$root/test/fixtures/kubeadm"
# One release per minor, from the oldest supported (src/core/support.ts MIN_SUPPORTED) to the newest tested.
VERSIONS=(v1.25.16 v1.26.15 v1.27.16 v1.28.15 v1.29.15 v1.30.14 v1.31.14 v1.32.13 v1.33.6 v1.34.4 v1.35.4 v1.36.3 v1.37.2)
[ $# -gt 0 ] && VERSIONS=("$@")

# kubeadm's config API: v1beta4 from 1.31 (v1beta3 deprecated there), v1beta3 before.
config_for() {
  local minor=${1#v1.}; minor=${minor%%.*}
  if [ "$minor" -ge 31 ]; then echo "$fixtures/kubeadm-config.yaml"; else echo "$fixtures/kubeadm-config-v1beta3.yaml"; fi
}

# generate <kubeadm binary> <version> <config template> <output dir>
generate() {
  local bin=$1 version=$2 config=$3 out=$4 scratch
  scratch=$(mktemp -d)
  mkdir -p "$scratch/etc/kubernetes/pki" "$scratch/tmp"
  sed "s/\${VERSION}/$version/" "$config" > "$scratch/tmp/cfg.yaml"
  "$bin" init phase control-plane all --config /tmp/cfg.yaml --rootfs "$scratch" >/dev/null
  "$bin" init phase etcd local --config /tmp/cfg.yaml --rootfs "$scratch" >/dev/null
  mkdir -p "$out"
  cp "$scratch"/etc/kubernetes/manifests/*.yaml "$out/"
  rm -rf "$scratch"
}

for version in "${VERSIONS[@]}"; do
  bin=$(bash "$here/build-kubeadm.sh" "$version")
  rm -rf "${fixtures:?}/$version"
  generate "$bin" "$version" "$(config_for "$version")" "$fixtures/$version"
  subs="$(dirname "$bin")/substitutions.txt"
  if [ -s "$subs" ]; then cp "$subs" "$fixtures/$version/.staging-substitutions.txt"; else rm -f "$fixtures/$version/.staging-substitutions.txt"; fi
  echo "kubeadm $version -> test/fixtures/kubeadm/$version" >&2
done

# Corpus sets generated from a public kubeadm configuration: the config is kept in the set's folder with a
# `# kubeadm: vX.Y.Z` first line naming the kubeadm that renders it.
for cfg in "$root"/test/fixtures/corpus/*/.kubeadm-config.yaml; do
  [ -f "$cfg" ] || continue
  version=$(sed -n '1s/^# kubeadm: \(v[0-9.]*\).*/\1/p' "$cfg")
  [ -n "$version" ] || { echo "$cfg: first line must be '# kubeadm: vX.Y.Z'" >&2; exit 1; }
  case " ${VERSIONS[*]} " in *" $version "*) ;; *) continue ;; esac
  generate "$(bash "$here/build-kubeadm.sh" "$version")" "$version" "$cfg" "$(dirname "$cfg")"
  echo "kubeadm $version -> ${cfg#"$root"/}" >&2
done
