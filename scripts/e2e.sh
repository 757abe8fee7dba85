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
# BED_CONTROL_PLANES=3: the HA bed (npm run test:e2e:ha).
bash "$bed" up ${BED_CONTROL_PLANES:+--control-planes "$BED_CONTROL_PLANES"}
KUBECONFIG=$(bash "$bed" kubeconfig)
export KUBECONFIG
# The bed's own checks first (on the cluster as kubeadm made it), then the plugin, then reboot recovery, then
# any other suite: one node --test per file, because node sorts the files it is given. Every file runs; the exit
# code says whether any failed.
files=(test/e2e/testbed.e2e.test.ts test/e2e/selfhost.e2e.test.ts test/e2e/reboot.e2e.test.ts)
# The HA files need the bed with several control-plane nodes (npm run test:e2e:ha, BED_CONTROL_PLANES=3).
for f in test/e2e/*.e2e.test.ts; do
  [[ $f == test/e2e/ha*.e2e.test.ts ]] && continue
  [[ " ${files[*]} " == *" $f "* ]] || files+=("$f")
done
# shellcheck disable=SC2206 # E2E_FILES is a space-separated list of files
[ -n "${E2E_FILES:-}" ] && files=($E2E_FILES)
# The fault suite's representative subset (issue "fault injection on the real bed"): the safety suite already
# kills both verbs at the apiserver hand-over (each followed by a reboot, then the same verb) and races two pivots,
# and selfhost kills a pivot there and takes it back by rollback (the opposite verb); this adds one partition with a
# second operator. The whole matrix, the fault hook's kills at exact points among it, is npm run test:e2e:faults.
subset=(
  'test/e2e/faults/partition.e2e.test.ts|^60s partition at the apiserver hand-over'
)
[ -n "${E2E_FILES:-}" ] && subset=()
failed=()
# What each failed file said about its failures (node's spec reporter ends with them), printed again last: CI
# shows the end of the output, and a long suite's reasons would otherwise scroll out of it.
reasons=$(mktemp)
trap 'rm -f "$reasons"; cleanup' EXIT
why() { sed -n '/failing tests:/,$p' "$2" | head -n 60 | sed "s|^|$1: |" >>"$reasons" || true; }
# The last file run is told that the bed is torn down after it (unless KEEP_BED=1): its clean-up rollback, which
# only readies the bed for a next file, is skipped (about two minutes of CI).
last=$(( ${#files[@]} + ${#subset[@]} ))
run=0
# Called as $(discarded), in a subshell: the count is kept by the loops (run=$((run + 1)) before each file).
discarded() { [ "${KEEP_BED:-0}" != 1 ] && [ "$run" -eq "$last" ] && echo 1 || echo 0; }
for f in "${files[@]}"; do
  run=$((run + 1))
  log=$(mktemp)
  t=$SECONDS
  E2E_BED_DISCARDED=$(discarded) node --test --test-concurrency=1 --test-reporter=spec "$f" | tee "$log" || { failed+=("$f"); why "$f" "$log"; }
  echo "e2e: $f took $((SECONDS - t)) s"
  rm -f "$log"
done
for s in "${subset[@]}"; do
  f=${s%%|*}
  run=$((run + 1))
  log=$(mktemp)
  t=$SECONDS
  E2E_BED_DISCARDED=$(discarded) node --test --test-concurrency=1 --test-reporter=spec --test-name-pattern="${s#*|}" "$f" | tee "$log" || { failed+=("$f"); why "$f" "$log"; }
  echo "e2e: $f (${s#*|}) took $((SECONDS - t)) s"
  # A pattern that no longer matches a case name would pass with nothing run.
  grep -Eq '^ℹ pass [1-9]' "$log" || { echo "e2e: no case of $f matched ${s#*|}" >&2; failed+=("$f"); }
  rm -f "$log"
done
if [ ${#failed[@]} -gt 0 ]; then
  cat "$reasons" >&2
  echo "e2e: failed: ${failed[*]}" >&2
  exit 1
fi
