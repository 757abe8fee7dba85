#!/usr/bin/env bash
# npm run test:e2e: brings the real kubeadm test bed up, runs the e2e suite (node:test) against it with the
# built kubectl-selfhost, and tears the bed down whatever happened. KEEP_BED=1 leaves it up for debugging.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
npm run build --silent
bed="$root/scripts/testbed/testbed.sh"
cleanup() { if [ "${KEEP_BED:-0}" != 1 ]; then bash "$bed" down; fi; }
trap cleanup EXIT
bash "$bed" up
KUBECONFIG=$(bash "$bed" kubeconfig)
export KUBECONFIG
# The bed's own checks first (on the cluster as kubeadm made it), then the plugin, then reboot recovery, then
# any other suite: one node --test per file, because node sorts the files it is given. Every file runs; the exit
# code says whether any failed.
files=(test/e2e/testbed.e2e.test.ts test/e2e/selfhost.e2e.test.ts test/e2e/reboot.e2e.test.ts)
for f in test/e2e/*.e2e.test.ts; do [[ " ${files[*]} " == *" $f "* ]] || files+=("$f"); done
# shellcheck disable=SC2206 # E2E_FILES is a space-separated list of files
[ -n "${E2E_FILES:-}" ] && files=($E2E_FILES)
failed=()
for f in "${files[@]}"; do
  node --test --test-concurrency=1 --test-reporter=spec "$f" || failed+=("$f")
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "e2e: failed: ${failed[*]}" >&2
  exit 1
fi
