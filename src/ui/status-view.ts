// Renders a Status for people: a table per node and component, checkpoints, journal, etcd, problems. Everything read
// from the cluster is escaped (esc) before colour is added.
import type { ChalkInstance } from 'chalk';
import type { Status } from '../core/status.ts';
import { escapeTerminal as esc } from './escape.ts';
import { table } from './table.ts';

export function renderStatus(s: Status, server: string, c: ChalkInstance): string {
  const out = [`Context: ${c.bold(esc(s.context))} (${esc(server)})`, ''];
  const mode = (m: string) => (m === 'self-hosted' ? c.green(m) : m === 'static' ? c.blue(m) : m === 'both' ? c.yellow(m) : c.red(m));
  const yn = (b: boolean | null) => (b === null ? '-' : b ? 'true' : c.red('false'));
  const gen = (comp: string) => {
    const d = s.daemonSets.find((x) => x.component === comp);
    return d ? `${d.generation ?? '-'}/${d.observedGeneration ?? '-'}` : '-';
  };
  const rows = s.nodes.flatMap((n) => n.components.map((x) => [esc(n.name), esc(x.component), mode(x.mode), yn(x.ready), esc(x.version ?? '-'), String(x.restarts ?? '-'), gen(x.component), x.component === 'etcd' ? '-' : x.backup ? 'yes' : 'no']));
  out.push(table(['NODE', 'COMPONENT', 'MODE', 'READY', 'VERSION', 'RESTARTS', 'DS GEN/OBSERVED', 'BACKUP'], rows), '');
  const ck = (n: Status['nodes'][number]) => {
    const k = n.checkpoint;
    if (!k.exists && !k.active) return 'none';
    const sync = k.matchesDaemonSet === false ? c.yellow(`stale (written from generation ${k.recordedGeneration})`) : 'matches the DaemonSet';
    return `${k.active ? c.yellow('active') : 'inactive'}, ${sync}`;
  };
  out.push(table(['NODE', 'APISERVER CHECKPOINT (reboot recovery)'], s.nodes.map((n) => [esc(n.name), ck(n)])), '');
  const j = s.journal;
  out.push(`Journal: ${j ? `${esc(j.operation)} ${esc(j.runId)} ${j.state === 'completed' ? c.green(j.state) : c.yellow(esc(j.state))} (started ${esc(j.startedAt)}, ${j.done.length} step(s) done)` : 'none (never pivoted)'}`);
  out.push(`etcd: ${s.etcd.healthy ? c.green('healthy') : c.red('unhealthy')} (${esc(s.etcd.detail)})`);
  out.push(`Summary: ${s.summary === 'healthy' ? c.green(s.summary) : c.yellow(s.summary)}`);
  for (const p of s.problems) out.push(`  ${c.yellow('!')} ${esc(p)}`);
  return out.join('\n') + '\n';
}
