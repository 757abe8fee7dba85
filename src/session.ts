// A connection to the cluster of the chosen kubeconfig context: the real ports wired together once.
import type { Snapshot } from './core/snapshot.ts';
import type { Globals } from './globals.ts';
import type { ApiProbe, KubeApi } from './ports/kube.ts';
import { loadKubeConfig } from './ports/kubeconfig.ts';
import { apiProbe, restClient } from './ports/kube-rest.ts';
import { readCluster } from './sources/cluster.ts';

export interface Session {
  kube: KubeApi;
  probe: ApiProbe;
  context: string;
  server: string;
  readSnapshot(): Promise<Snapshot>;
}

export async function connect(g: Globals, env: NodeJS.ProcessEnv): Promise<Session> {
  const cfg = await loadKubeConfig(g, env);
  const kube = restClient(cfg, g.requestTimeoutMs);
  const where = { context: cfg.context, server: cfg.server };
  return { kube, probe: apiProbe(cfg, g.requestTimeoutMs), ...where, readSnapshot: () => readCluster(kube, where) };
}
