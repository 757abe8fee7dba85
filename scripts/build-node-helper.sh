#!/usr/bin/env bash
# Builds the node helper (src/node-helper, Go, standard library only) for linux/amd64 and linux/arm64,
# reproducibly (-trimpath, no build id, no cgo; gzip without name or time), into dist/node-helper/:
#   node-helper-linux-<arch>.gz and SHA256SUMS (of the uncompressed binaries, which the agent checks before running).
# Same sources and Go toolchain -> same bytes. Needs Go >= 1.24 on PATH.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(realpath -m "${1:-$root/dist/node-helper}")
command -v go >/dev/null || { echo "build-node-helper: Go >= 1.24 is needed on PATH (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$root/src/node-helper"
: > "$work/SHA256SUMS"
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch GOFLAGS=-mod=mod go build -trimpath -buildvcs=false -ldflags "-s -w -buildid=" \
    -o "$work/node-helper-linux-$arch" .
  (cd "$work" && sha256sum "node-helper-linux-$arch" >> SHA256SUMS)
  gzip -9 -n -c "$work/node-helper-linux-$arch" > "$out/node-helper-linux-$arch.gz"
done
cp "$work/SHA256SUMS" "$out/SHA256SUMS"
echo "$out"
