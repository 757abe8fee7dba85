// The API prober: at least 20 requests a second, each on a new TCP+TLS connection (agent: false), alternating
// /readyz and a small list, against the kubeconfig's API server. It reports requests sent, failed, and the
// longest gap without a successful answer. Bounded: it stops when told to, or after maxMs.
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { request } from 'node:https';
import { load } from 'js-yaml';
import { bedHasAddons, ensureInClusterProber, inClusterWindow } from './incluster-prober.ts';
import { failureKind, formatKinds } from './failure-kind.ts';

export interface ProbeReport {
  label: string;
  sent: number;
  failed: number;
  longestGapMs: number;
  /** When the longest gap ended (ISO time; the end of the run when it was still open); the node prober's only. */
  longestGapEnd?: string;
  durationMs: number;
  firstErrors: string[];
  /** Failures by kind (failure-kind.ts). */
  kinds: Record<string, number>;
  /** Up to three distinct reasons of failures of kind "other" (none of failure-kind.ts's names fits them yet). */
  unclassified?: string[];
}

interface KubeconfigFile {
  'current-context': string;
  contexts: Array<{ name: string; context: { cluster: string; user: string } }>;
  clusters: Array<{ name: string; cluster: { server: string; 'certificate-authority-data'?: string } }>;
  users: Array<{ name: string; user: { 'client-certificate-data'?: string; 'client-key-data'?: string } }>;
}

/**
 * The prober in a worker thread of its own, so that a test that blocks its event loop (spawnSync of a verb, a
 * synchronous kubectl) never stalls it: a stall would count as a gap of the API.
 */
export function startProber(kubeconfig: string, label: string, ratePerSecond = 25, maxMs = 600_000): { stop(): Promise<ProbeReport> } {
  const worker = new Worker(new URL('./prober-worker.ts', import.meta.url), { workerData: { kubeconfig, label, ratePerSecond, maxMs } });
  const report = new Promise<ProbeReport>((resolve, reject) => {
    worker.once('message', (r: ProbeReport) => resolve(r));
    worker.once('error', reject);
  });
  return {
    async stop() {
      worker.postMessage('stop');
      try {
        return await report;
      } finally {
        await worker.terminate();
      }
    },
  };
}

/** The prober itself, in the calling thread (the worker's body). */
export function probeInThisThread(kubeconfig: string, label: string, ratePerSecond = 25, maxMs = 600_000): { stop(): Promise<ProbeReport> } {
  const kc = load(readFileSync(kubeconfig, 'utf8')) as KubeconfigFile;
  const ctx = kc.contexts.find((c) => c.name === kc['current-context'])!.context;
  const cluster = kc.clusters.find((c) => c.name === ctx.cluster)!.cluster;
  const user = kc.users.find((u) => u.name === ctx.user)!.user;
  const b64 = (s?: string) => (s ? Buffer.from(s, 'base64') : undefined);
  const tls = { ca: b64(cluster['certificate-authority-data']), cert: b64(user['client-certificate-data']), key: b64(user['client-key-data']) };
  const paths = ['/readyz', '/api/v1/namespaces/kube-system/configmaps?limit=1'];
  const start = Date.now();
  let sent = 0;
  let failed = 0;
  let lastSuccess = start;
  let longestGapMs = 0;
  let longestGapEnd = start;
  const firstErrors: string[] = [];
  const kinds: Record<string, number> = {};
  const unclassified: string[] = [];
  const inflight = new Set<Promise<void>>();

  const one = (path: string) => new Promise<void>((resolve) => {
    const t0 = Date.now();
    const fail = (why: string) => {
      failed++;
      const kind = failureKind(why);
      kinds[kind] = (kinds[kind] ?? 0) + 1;
      if (kind === 'other' && unclassified.length < 3 && !unclassified.includes(why)) unclassified.push(why);
      if (firstErrors.length < 5) firstErrors.push(`${new Date(t0).toISOString().slice(11, 23)} ${path}: ${why}`);
      resolve();
    };
    const req = request(new URL(path, cluster.server), { ...tls, agent: false, method: 'GET', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode === 200) {
          const now = Date.now();
          if (now - lastSuccess > longestGapMs) [longestGapMs, longestGapEnd] = [now - lastSuccess, now];
          lastSuccess = Math.max(lastSuccess, now);
          resolve();
        } else fail(`HTTP ${res.statusCode}`);
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout after 2s')));
    req.on('error', (e) => fail(e.message));
    req.end();
  });

  const timer = setInterval(() => {
    if (Date.now() - start > maxMs) return;
    const p = one(paths[sent % paths.length]!);
    sent++;
    inflight.add(p);
    void p.then(() => inflight.delete(p));
  }, Math.floor(1000 / ratePerSecond));

  return {
    async stop() {
      clearInterval(timer);
      await Promise.all(inflight);
      const end = Date.now();
      if (end - lastSuccess > longestGapMs) [longestGapMs, longestGapEnd] = [end - lastSuccess, end];
      return { label, sent, failed, longestGapMs, longestGapEnd: new Date(longestGapEnd).toISOString(), durationMs: Date.now() - start, firstErrors, kinds, unclassified };
    },
  };
}

export function formatReport(r: ProbeReport): string {
  return `${r.label}: ${r.sent} requests in ${(r.durationMs / 1000).toFixed(1)}s (${(r.sent / (r.durationMs / 1000)).toFixed(1)}/s, each on a new connection), ${r.failed} failed${r.failed ? ` (${formatKinds(r.kinds)})` : ''}, longest gap without a success ${(r.longestGapMs / 1000).toFixed(2)}s${r.firstErrors.length ? `; first failures: ${r.firstErrors.join('; ')}` : ''}${r.unclassified?.length ? `; of kind "other": ${r.unclassified.join('; ')}` : ''}`;
}

let addons: boolean | undefined;

/**
 * Runs f with the prober sending throughout (a second before and after), and reports the figures as one line per
 * vantage point: the node's address (the kubeconfig's server) and, on a bed with its addons, the in-cluster prober
 * through kubernetes.default.svc.
 */
export async function probed<T>(kubeconfig: string, label: string, f: () => T | Promise<T>, report: (line: string) => void = (line) => console.log(`# FIGURE ${line}`)): Promise<{ value: T; probe: ProbeReport; inCluster: ProbeReport | null }> {
  addons ??= bedHasAddons();
  if (addons) await ensureInClusterProber();
  const prober = startProber(kubeconfig, `${label} [node address]`);
  const inside = addons ? inClusterWindow(`${label} [in-cluster, kubernetes.default.svc]`) : null;
  await new Promise((r) => setTimeout(r, 1000));
  const value = await f();
  await new Promise((r) => setTimeout(r, 1000));
  const probe = await prober.stop();
  const inCluster = inside ? await inside.stop() : null;
  report(formatReport(probe));
  if (inCluster) report(formatReport(inCluster));
  return { value, probe, inCluster };
}
