#!/usr/bin/env bash
# Builds the Kubernetes and etcd binaries for the test bed from the Go module proxy (no other source is
# reachable here) into a cache outside the repository, keyed by version, so warm runs skip the build.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
CACHE_ROOT=${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}
out="$CACHE_ROOT/bin/k8s-$K8S_VERSION-etcd-$ETCD_VERSION"
components=(kubeadm kubelet kube-apiserver kube-controller-manager kube-scheduler kube-proxy)

if [ -f "$out/.complete" ]; then echo "$out"; exit 0; fi
mkdir -p "$out"
work=$(mktemp -d "$CACHE_ROOT/gomod.XXXXXX")
trap 'rm -rf "$work"' EXIT

modfile=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
minor=${K8S_VERSION#v1.}; minor=${minor%%.*}
staging_version="v0.$minor.${K8S_VERSION##*.}"
{
  echo "module selfhost.local/testbed-k8s"
  echo "go 1.24.0"
  echo "require k8s.io/kubernetes $K8S_VERSION"
  # k8s.io/kubernetes points its staging modules at ./staging; point them at the published v0.x releases.
  sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|replace \1 => \1 '"$staging_version"'|p' "$modfile"
} > "$work/go.mod"
cd "$work"
for c in "${components[@]}"; do echo "tool k8s.io/kubernetes/cmd/$c" >> go.mod; done
export GOFLAGS=-mod=mod CGO_ENABLED=0
go mod tidy >/dev/null 2>&1 || go mod download
commit=$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Version": "\(.*\)".*/\1/p')
ld=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z -X $pkg.gitCommit=$commit"
done
for c in "${components[@]}"; do
  start=$SECONDS
  go build -trimpath -ldflags "-s -w $ld" -o "$out/$c" "k8s.io/kubernetes/cmd/$c"
  echo "built $c in $((SECONDS - start))s" >&2
done

# etcd: its own module tree; server/v3 holds the etcd main, etcdctl and etcdutl their own modules.
mkdir -p "$work/etcd" && cd "$work/etcd"
cat > go.mod <<MOD
module selfhost.local/testbed-etcd
go 1.24.0
MOD
for m in go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3; do
  go get -tool "$m@$ETCD_VERSION" >/dev/null
done
ev="go.etcd.io/etcd/api/v3/version"
go build -trimpath -ldflags "-s -w -X $ev.GitSHA=$ETCD_VERSION" -o "$out/etcd" go.etcd.io/etcd/server/v3
go build -trimpath -ldflags "-s -w" -o "$out/etcdctl" go.etcd.io/etcd/etcdctl/v3
go build -trimpath -ldflags "-s -w" -o "$out/etcdutl" go.etcd.io/etcd/etcdutl/v3
touch "$out/.complete"
echo "$out"
