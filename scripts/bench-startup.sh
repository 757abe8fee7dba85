#!/usr/bin/env bash
# Start-up and wall-time benchmark of the single executable against kubectl, in one run, as a Markdown table:
#   kubectl-selfhost --help, version, plan --manifests-dir, __complete   vs   kubectl version --client
#   kubectl-selfhost status                                             vs   kubectl get pods -n kube-system
# The status pair runs only when the kubeconfig (KUBECONFIG or ~/.kube/config) reaches a live cluster; otherwise
# the table says it was skipped. Also prints the executable's and the archive's size.
# Usage: scripts/bench-startup.sh [runs]   (default 10 runs after 2 warm-ups; BIN= to bench another executable)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-10}
bin=${BIN:-$root/dist/bin/linux-amd64/kubectl-selfhost}
[ -x "$bin" ] || { echo "no executable at $bin: run npm run package first" >&2; exit 2; }
command -v kubectl >/dev/null || { echo "kubectl is not on PATH" >&2; exit 2; }
fixture=$root/test/fixtures/kubeadm/v1.34.4

now_ns() { date +%s%N; }

# bench LABEL CMD...: min, median and mean wall time in ms over $runs runs (exit codes are not judged: plan exits 1)
bench() {
  local label=$1
  shift
  local i t0 times=()
  for i in 1 2; do "$@" >/dev/null 2>&1 || true; done
  for ((i = 0; i < runs; i++)); do
    t0=$(now_ns)
    "$@" >/dev/null 2>&1 || true
    times+=($((($(now_ns) - t0) / 1000)))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk -v label="$label" '
    { t[NR] = $1; sum += $1 }
    END {
      med = (NR % 2) ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "| %s | %.0f | %.0f | %.0f |\n", label, t[1] / 1000, med / 1000, sum / NR / 1000
    }'
}

echo "kubectl-selfhost: $bin ($("$bin" version)); $(kubectl version --client 2>/dev/null | head -1)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $runs runs each"
echo
echo "| command | min ms | median ms | mean ms |"
echo "| --- | ---: | ---: | ---: |"
bench 'kubectl-selfhost --help' "$bin" --help
bench 'kubectl-selfhost version' "$bin" version
bench 'kubectl-selfhost plan --manifests-dir (offline)' "$bin" plan --manifests-dir "$fixture"
bench 'kubectl-selfhost __complete plan --c (completion)' "$bin" __complete plan --c
bench 'kubectl version --client' kubectl version --client
if kubectl --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
  bench 'kubectl-selfhost status (live cluster)' "$bin" status
  bench 'kubectl get pods -n kube-system (live cluster)' kubectl get pods -n kube-system
else
  echo "| kubectl-selfhost status / kubectl get pods -n kube-system | skipped: the kubeconfig reaches no live cluster | | |"
fi
echo
archive=$(ls "$root"/dist/kubectl-selfhost_v*_linux_amd64.tar.gz 2>/dev/null | head -1 || true)
echo "size: executable $(du -m "$bin" | cut -f1) MB${archive:+, archive $(du -m "$archive" | cut -f1) MB ($(basename "$archive"))}"
