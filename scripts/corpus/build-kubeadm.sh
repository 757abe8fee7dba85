#!/usr/bin/env bash
# Builds one real kubeadm (only kubeadm) for a Kubernetes version from the Go module proxy, the way the test bed
# builds its binaries (scripts/testbed/build-binaries.sh), into a cache outside the repository:
#   $CACHE_ROOT/kubeadm/<version>/kubeadm     (CACHE_ROOT defaults to /var/cache/kubectl-selfhost)
# Prints the binary's path. A cached binary is reused; an absent one is built (under nice, the machine is shared).
set -euo pipefail
version=${1:?usage: build-kubeadm.sh v1.XX.Y}
CACHE_ROOT=${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}
out="$CACHE_ROOT/kubeadm/$version"
if [ -x "$out/kubeadm" ] && [ -f "$out/.complete" ]; then echo "$out/kubeadm"; exit 0; fi
mkdir -p "$out"
work=$(mktemp -d "$CACHE_ROOT/kubeadm/gomod.XXXXXX")
trap 'rm -rf "$work"' EXIT

modfile=$(go mod download -json "k8s.io/kubernetes@$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
minor=${version#v1.}; minor=${minor%%.*}
staging_version="v0.$minor.${version##*.}"
# The module proxy reachable here does not hold every staging release. kubeadm's static pod manifests come from
# kubeadm's own code (k8s.io/kubernetes at exactly $version); a staging module it only takes types from
# (kube-proxy, kubelet, cluster-bootstrap config types) may then come from the nearest release: the same minor's
# newest patch, else the oldest newer minor. Every substitution is printed and recorded beside the binary.
staging_release() {
  local m=$1 list
  list=$(go list -m -versions "$m" 2>/dev/null | tr ' ' '\n' | grep -E '^v0\.[0-9]+\.[0-9]+$' | sort -V || true)
  if grep -qx "$staging_version" <<<"$list" || go mod download "$m@$staging_version" >/dev/null 2>&1; then
    echo "$staging_version"; return
  fi
  local pick
  pick=$(grep -E "^v0\.$minor\." <<<"$list" | tail -1)
  [ -n "$pick" ] || pick=$(awk -F. -v m="$minor" '$2 > m' <<<"$list" | head -1)
  [ -n "$pick" ] || pick=$staging_version
  echo "$m $staging_version -> $pick" >> "$out/substitutions.txt"
  echo "$pick"
}
rm -f "$out/substitutions.txt"
{
  echo "module selfhost.local/corpus-kubeadm"
  echo "go 1.24.0"
  echo "require k8s.io/kubernetes $version"
  # k8s.io/kubernetes points its staging modules at ./staging; point them at the published v0.x releases
  # (the same release where the proxy has it, else the nearest one: see staging_version below).
  declare -A pick=()
  for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|\1|p' "$modfile"); do pick[$m]=$(staging_release "$m"); done
  # A substitute from a newer minor needs its own protocol module at its version: k8s.io/cri-client (published
  # only from v0.33) implements k8s.io/cri-api's service, so cri-api follows it (kubeadm only calls it).
  if [ -n "${pick[k8s.io/cri-client]:-}" ] && [ "${pick[k8s.io/cri-client]}" != "$staging_version" ]; then
    pick[k8s.io/cri-api]=${pick[k8s.io/cri-client]}
    echo "k8s.io/cri-api $staging_version -> ${pick[k8s.io/cri-client]} (follows k8s.io/cri-client)" >> "$out/substitutions.txt"
  fi
  for m in "${!pick[@]}"; do echo "replace $m => $m ${pick[$m]}"; done | sort
  echo "tool k8s.io/kubernetes/cmd/kubeadm"
} > "$work/go.mod"
cd "$work"
export GOFLAGS=-mod=mod CGO_ENABLED=0
nice -n 19 go mod tidy >/dev/null 2>&1 || nice -n 19 go mod download
ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z -X $pkg.gitCommit=$version"
done
start=$SECONDS
nice -n 19 go build -trimpath -ldflags "-s -w $ld" -o "$out/kubeadm" k8s.io/kubernetes/cmd/kubeadm
echo "built kubeadm $version in $((SECONDS - start))s" >&2
echo "$((SECONDS - start))" > "$out/.build-seconds"
touch "$out/.complete"
echo "$out/kubeadm"
