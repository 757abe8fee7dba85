// A connection to the cluster of the chosen kubeconfig context: the real ports wired together once.
import type { Snapshot } from './core/snapshot.ts';
import type { Globals } from './globals.ts';
import type { ApiProbe, KubeApi } from './ports/kube.ts';
import { loadKubeConfig } from './ports/kubeconfig.ts';
import { apiProbe, restClient, SLOW_AFTER_MS } from './ports/kube-rest.ts';
import { readCluster } from './sources/cluster.ts';
import type { Clock } from './ports/clock.ts';
import { retrying, type RetryPolicy } from './ports/retry.ts';

export interface Session {
  kube: KubeApi;
  probe: ApiProbe;
  context: string;
  server: string;
  readSnapshot(): Promise<Snapshot>;
}

/** Retries for runs that restart the apiserver themselves (pivot, rollback); plan and status answer at once. */
export interface SessionRetries {
  policy: RetryPolicy;
  clock: Clock;
  onRetry(what: string, err: Error, attempt: number): void;
}

/**
 * onSlow hears of every request still unanswered after a few seconds (plan and status print it on stderr, pivot and
 * rollback as a progress line), so that a server that never answers is named while the command waits.
 */
export async function connect(g: Globals, env: NodeJS.ProcessEnv, onSlow: (what: string) => void, retries?: SessionRetries): Promise<Session> {
  const cfg = await loadKubeConfig(g, env);
  const limit = g.requestTimeoutMs > 0 ? `gives up after ${g.requestTimeoutMs / 1000}s (--request-timeout)` : 'no limit: --request-timeout 0';
  // Requests sent together are slow together: one line for them, not one each.
  let lastNotice = -Infinity;
  const rest = restClient(cfg, {
    requestTimeoutMs: g.requestTimeoutMs,
    onSlow: (what, waitedMs) => {
      if (Date.now() - lastNotice < SLOW_AFTER_MS) return;
      lastNotice = Date.now();
      onSlow(`waiting for the API server ${cfg.server} to answer ${what} (${Math.round(waitedMs / 1000)}s so far; ${limit})`);
    },
  });
  const kube = retries ? retrying(rest, retries.policy, retries.clock, retries.onRetry) : rest;
  const where = { context: cfg.context, server: cfg.server };
  return { kube, probe: apiProbe(cfg, g.requestTimeoutMs), ...where, readSnapshot: () => readCluster(kube, where) };
}
