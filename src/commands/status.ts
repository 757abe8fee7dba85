// `kubectl selfhost status`: where every component on every control-plane node stands.
// Exit codes: 0 healthy, 1 degraded or mid-way, > 1 error.
import { NAMESPACE } from '../core/labels.ts';
import { buildStatus, statusExitCode } from '../core/status.ts';
import { toYaml } from '../core/yaml.ts';
import type { Invocation } from '../cli.ts';
import { paths, type KubeApi } from '../ports/kube.ts';
import { backupConfigMapName } from '../pivot/store.ts';
import { connect } from '../session.ts';
import { chalkFor } from '../ui/color.ts';
import { escapeTerminal } from '../ui/escape.ts';
import { renderStatus } from '../ui/status-view.ts';

export async function statusCommand({ flags, g, io }: Invocation): Promise<number> {
  const args = flags as { output?: 'json' | 'yaml' };
  const session = await connect(g, io.env, (what) => io.err(`${escapeTerminal(what)}\n`));
  const snapshot = await session.readSnapshot();
  const [etcd, backups] = await Promise.all([etcdHealth(session.kube), clusterBackups(session.kube, snapshot.nodes.map((n) => n.name))]);
  const status = buildStatus({ snapshot, context: session.context, etcd, backups });
  if (args.output === 'json') io.out(JSON.stringify(status, null, 2) + '\n');
  else if (args.output === 'yaml') io.out(toYaml(status));
  else io.out(renderStatus(status, session.server, chalkFor(g, io)));
  return statusExitCode(status);
}

async function etcdHealth(kube: KubeApi): Promise<{ healthy: boolean; detail: string }> {
  try {
    const r = await kube.raw('/readyz/etcd');
    return { healthy: r.status === 200, detail: `apiserver /readyz/etcd: ${r.status} ${r.body.trim().slice(0, 80)}` };
  } catch (err) {
    return { healthy: false, detail: (err as Error).message };
  }
}

async function clusterBackups(kube: KubeApi, nodes: string[]): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  await Promise.all(nodes.map(async (n) => {
    const cm = await kube.get<{ data?: Record<string, string> }>(paths.configMap(NAMESPACE, backupConfigMapName(n)));
    out[n] = Object.keys(cm?.data ?? {}).map((k) => k.replace(/\.yaml$/, ''));
  }));
  return out;
}
