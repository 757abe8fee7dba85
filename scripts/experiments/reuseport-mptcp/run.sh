#!/usr/bin/env bash
# Issue 13, a throwaway check (docs/zero-loss-next.md): builds main.go and runs it in a network namespace of its own
# (loopback only), then deletes the namespace. Needs root and Go.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$(mktemp -d)
ns=selfhost-reuseport-try-$$
trap 'ip netns del "$ns" 2>/dev/null || true; rm -rf "$bin"' EXIT
(cd "$here" && go build -o "$bin/check" .)
ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
echo "kernel $(uname -r), net.mptcp.enabled=$(ip netns exec "$ns" sysctl -n net.mptcp.enabled 2>/dev/null || echo absent)"
timeout 60 ip netns exec "$ns" "$bin/check"
