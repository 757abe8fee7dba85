#!/usr/bin/env bash
# Builds CoreDNS at the version kubeadm asks for (build-images.sh passes the tag of the image kubeadm lists) from the
# Go module proxy, in a throw-away module of its own (its dependency tree has nothing to do with Kubernetes'), into
# the cache outside the repository. A warm run is a no-op.
# Usage: build-coredns.sh VERSION   (e.g. v1.12.1; prints the path of the binary)
set -euo pipefail
version=${1:?usage: build-coredns.sh VERSION}
[[ $version =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "build-coredns: '$version' is not a release version" >&2; exit 1; }
CACHE_ROOT=${SELFHOST_CACHE:-/var/cache/kubectl-selfhost}
out="$CACHE_ROOT/bin/coredns-$version"
if [ -f "$out/.complete" ]; then echo "$out/coredns"; exit 0; fi
command -v go >/dev/null || { echo "build-coredns: CoreDNS $version is not cached and building it needs Go >= 1.24 on PATH" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d "$CACHE_ROOT/gomod.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
printf 'module selfhost.local/testbed-coredns\ngo 1.24.0\n' > go.mod
export GOFLAGS=-mod=mod CGO_ENABLED=0
go get -tool "github.com/coredns/coredns@$version" >/dev/null 2>&1 || go get -tool "github.com/coredns/coredns@$version"
commit=$(go mod download -json "github.com/coredns/coredns@$version" | sed -n 's/.*"Hash": "\(.*\)".*/\1/p' | head -n 1)
[ -n "$commit" ] || commit=$version
start=$SECONDS
go build -trimpath -ldflags "-s -w -X github.com/coredns/coredns/coremain.GitCommit=${commit:0:8}" -o "$out/coredns" github.com/coredns/coredns
[[ $("$out/coredns" -version) == *"CoreDNS-${version#v}"* ]] || { echo "build-coredns: the binary does not say it is $version" >&2; exit 1; }
echo "build-coredns: built CoreDNS $version in $((SECONDS - start))s" >&2
touch "$out/.complete"
echo "$out/coredns"
