// The in-cluster vantage point: the bed's prober pod (scripts/testbed/prober, in the bed with BED_ADDONS=1) calls
// the API through kubernetes.default.svc with its service account, 25 requests a second on new connections, and
// logs one JSON line a second. Its log file is read on the node's file system, not through the API (which may be the
// thing that is down), and the lines of a time window fold into the host prober's figures.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProbeReport } from './prober.ts';
import { tryKubectl, until } from './helpers.ts';

export const PROBER_IMAGE = 'kubectl-selfhost.local/bed-prober:v1';
const NAME = 'bed-prober';
const POD_LOGS = '/var/log/pods';

/** One line of the prober: the second ending at t (unix ms). */
export interface ProberSecond { t: number; sent: number; failed: number; firstOk: number; lastOk: number; gapInside: number; kinds?: Record<string, number>; errors?: string[] }

/**
 * The figures of the seconds that ended in (from, to]: sent and failed summed, the longest time without a successful
 * answer (from `from` to the first success, between successes, from the last one to `to`). Whole seconds only: a
 * request sent in the second before `from` may count.
 */
export function fold(label: string, lines: readonly ProberSecond[], from: number, to: number): ProbeReport {
  const inside = lines.filter((l) => l.t > from && l.t <= to).sort((a, b) => a.t - b.t);
  let sent = 0;
  let failed = 0;
  let lastSuccess = from;
  let longestGapMs = 0;
  const firstErrors: string[] = [];
  const kinds: Record<string, number> = {};
  for (const l of inside) {
    sent += l.sent;
    failed += l.failed;
    for (const [k, n] of Object.entries(l.kinds ?? {})) kinds[k] = (kinds[k] ?? 0) + n;
    for (const e of l.errors ?? []) if (firstErrors.length < 5) firstErrors.push(e);
    if (l.firstOk > 0) {
      longestGapMs = Math.max(longestGapMs, l.firstOk - lastSuccess, l.gapInside);
      lastSuccess = Math.max(lastSuccess, l.lastOk);
    }
  }
  longestGapMs = Math.max(longestGapMs, to - lastSuccess);
  return { label, sent, failed, longestGapMs, durationMs: to - from, firstErrors, kinds };
}

/** Where the kubelets write pod logs: the host's /var/log/pods (the single node shares it), or each node's own
 * under the bed's state (a bed with several control-plane nodes, scripts/testbed/ha.sh). */
function podLogDirs(): string[] {
  const nodes = '/var/lib/selfhost-bed/nodes';
  const own = existsSync(nodes) ? readdirSync(nodes).map((n) => join(nodes, n, 'disk', POD_LOGS)) : [];
  return [POD_LOGS, ...own].filter((d) => existsSync(d));
}

/** Every line the prober pods have logged, on whichever node (CRI log format: "<time> stdout F <json>"). */
export function proberLines(): ProberSecond[] {
  const out: ProberSecond[] = [];
  for (const [logs, dir] of podLogDirs().flatMap((l) => readdirSync(l).filter((d) => d.startsWith(`default_${NAME}-`)).map((d) => [l, d] as const))) {
    const container = join(logs, dir, 'prober');
    if (!existsSync(container)) continue;
    for (const f of readdirSync(container).filter((x) => x.endsWith('.log'))) {
      for (const line of readFileSync(join(container, f), 'utf8').split('\n')) {
        const json = line.split(' ').slice(3).join(' ');
        if (!json.startsWith('{')) continue;
        try { out.push(JSON.parse(json) as ProberSecond); } catch { /* a line cut by a crash */ }
      }
    }
  }
  return out;
}

/** The bed has its addons (BED_ADDONS=1: kube-proxy, CoreDNS and the prober's image). */
export function bedHasAddons(): boolean {
  return tryKubectl(['-n', 'kube-system', 'get', 'daemonset', 'kube-proxy', '-o', 'name']) !== null;
}

const MANIFEST = [
  { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: NAME, namespace: 'default' } },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: NAME, namespace: 'default' },
    rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list'] }] },
  { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: NAME, namespace: 'default' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME }, subjects: [{ kind: 'ServiceAccount', name: NAME, namespace: 'default' }] },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: NAME, namespace: 'default' }, spec: {
    replicas: 1, selector: { matchLabels: { app: NAME } },
    template: { metadata: { labels: { app: NAME } }, spec: {
      serviceAccountName: NAME, terminationGracePeriodSeconds: 1,
      tolerations: [{ key: 'node-role.kubernetes.io/control-plane', operator: 'Exists', effect: 'NoSchedule' }],
      containers: [{ name: 'prober', image: PROBER_IMAGE, imagePullPolicy: 'Never',
        securityContext: { runAsUser: 65534, runAsGroup: 65534, runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } }],
    } } } },
];

/** Creates the prober (idempotent: apply) and waits until it logs successful answers. */
export async function ensureInClusterProber(): Promise<void> {
  execFileSync('kubectl', ['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: MANIFEST }), stdio: ['pipe', 'pipe', 'pipe'] });
  const since = Date.now();
  await until('the in-cluster prober to get answers', 180_000, () => proberLines().some((l) => l.t > since && l.firstOk > 0));
}

/** Starts a window of the in-cluster prober's figures; stop() waits for the last second to be logged. */
export function inClusterWindow(label: string): { stop(): Promise<ProbeReport> } {
  const from = Date.now();
  return {
    async stop() {
      const to = Date.now();
      await new Promise((r) => setTimeout(r, 2500));
      return fold(label, proberLines(), from, to + 999);
    },
  };
}
