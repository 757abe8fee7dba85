// Loads the kubeconfig as kubectl does: --kubeconfig, else KUBECONFIG (paths merged), else ~/.kube/config; then
// --context/--cluster/--user override. client-node is loaded here, lazily: offline verbs never pay for it.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { ConfigError } from '../core/errors.ts';
import type { Globals } from '../globals.ts';

export interface LoadedConfig {
  kc: KubeConfig;
  context: string;
  server: string;
}

export async function loadKubeConfig(g: Pick<Globals, 'kubeconfig' | 'context' | 'cluster' | 'user'>, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  const files = g.kubeconfig !== undefined ? [g.kubeconfig] : (env['KUBECONFIG'] ?? '').split(delimiter).filter(Boolean);
  const candidates = files.length > 0 ? files : [join(env['HOME'] ?? homedir(), '.kube', 'config')];
  const present = candidates.filter((f) => existsSync(f));
  if (g.kubeconfig !== undefined && present.length === 0) {
    throw new ConfigError(`kubeconfig ${g.kubeconfig} does not exist; pass the path of a readable kubeconfig to --kubeconfig`);
  }
  if (present.length === 0) {
    throw new ConfigError(`no kubeconfig found (looked at ${candidates.join(', ')}); set KUBECONFIG or pass --kubeconfig`);
  }
  // Only now load client-node: a missing kubeconfig is reported without paying for it.
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kc = new KubeConfig();
  // kubectl's merge rule: the first file to set a value wins, including current-context.
  for (const file of present) {
    const one = new KubeConfig();
    try {
      one.loadFromFile(file);
    } catch (err) {
      throw new ConfigError(`cannot read kubeconfig ${file}: ${firstLine(err)}; fix the file or point --kubeconfig elsewhere`);
    }
    mergeFirstWins(kc, one);
  }
  const contextName = g.context ?? kc.getCurrentContext();
  if (!contextName) {
    throw new ConfigError('the kubeconfig has no current context; pass --context or run "kubectl config use-context NAME"');
  }
  const ctx = kc.getContextObject(contextName);
  if (!ctx) {
    const known = kc.getContexts().map((c) => c.name).join(', ') || 'none';
    throw new ConfigError(`context "${contextName}" not found in the kubeconfig (known: ${known}); pass one of those to --context`);
  }
  const clusterName = g.cluster ?? ctx.cluster;
  const userName = g.user ?? ctx.user;
  const cluster = kc.getCluster(clusterName);
  if (!cluster) throw new ConfigError(`cluster "${clusterName}" not found in the kubeconfig; check --cluster or the context "${contextName}"`);
  if (!kc.getUser(userName)) throw new ConfigError(`user "${userName}" not found in the kubeconfig; check --user or the context "${contextName}"`);
  const effective = new KubeConfig();
  effective.loadFromOptions({
    clusters: kc.getClusters(),
    users: kc.getUsers(),
    contexts: [{ ...ctx, name: contextName, cluster: clusterName, user: userName }],
    currentContext: contextName,
  });
  return { kc: effective, context: contextName, server: cluster.server };
}

function mergeFirstWins(into: KubeConfig, from: KubeConfig): void {
  const merged = {
    clusters: [...into.getClusters(), ...from.getClusters().filter((c) => !into.getCluster(c.name))],
    users: [...into.getUsers(), ...from.getUsers().filter((u) => !into.getUser(u.name))],
    contexts: [...into.getContexts(), ...from.getContexts().filter((c) => !into.getContextObject(c.name))],
    currentContext: into.getCurrentContext() || from.getCurrentContext(),
  };
  into.loadFromOptions(merged);
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
