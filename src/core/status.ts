// status as a value: a pure function from a Snapshot (plus etcd health and which backups exist) to a versioned
// document; the table and `-o json|yaml` both render it.
import { PIVOT_ORDER, type Component } from './components.ts';
import { unfinished, type Journal } from './journal.ts';
import { GUARD_NAME } from './endpoint-guard.ts';
import { API_GROUP } from './labels.ts';
import { clusterCopyMissing, findStatic, modeOf, type Mode } from './plan.ts';
import { goneNodes } from './rollback-plan.ts';
import type { Snapshot } from './snapshot.ts';
import { imageVersion } from './static-pod.ts';
import { checkpointMatches, checkpointOrphaned } from './checkpoint.ts';
import { gated, gateText } from './node-gate.ts';

export const STATUS_API_VERSION = `${API_GROUP}/v1alpha1`;

export interface ComponentStatus {
  component: Component | 'etcd';
  mode: Mode;
  ready: boolean | null;
  version: string | null;
  restarts: number | null;
  /** A cluster copy of this node's static manifest exists (ConfigMap kubectl-selfhost-backup-<node>). */
  backup: boolean;
}

/** Reboot recovery on a node: see src/core/checkpoint.ts. */
export interface CheckpointStatus {
  /** A checkpoint was written (cluster record) and the checkpointer runs. */
  exists: boolean;
  /** The checkpoint serves: the node is recovering from a reboot. */
  active: boolean;
  /** Written from the DaemonSet's current generation (null when there is no DaemonSet or no record). */
  matchesDaemonSet: boolean | null;
  recordedGeneration: number | null;
}

export interface Status {
  apiVersion: typeof STATUS_API_VERSION;
  kind: 'Status';
  context: string;
  nodes: Array<{ name: string; ready: boolean | null; staticPodPath: string; components: ComponentStatus[]; checkpoint: CheckpointStatus }>;
  daemonSets: Array<{ component: Component; generation: number | null; observedGeneration: number | null; desired: number | null; ready: number | null }>;
  journal: Pick<Journal, 'operation' | 'runId' | 'state' | 'startedAt' | 'updatedAt' | 'done' | 'lastError'> | null;
  etcd: { healthy: boolean; detail: string };
  /** healthy: every component ready, each uniformly static or self-hosted, no unfinished run. */
  summary: 'healthy' | 'mid-way' | 'degraded';
  problems: string[];
}

export interface StatusInputs {
  snapshot: Snapshot;
  context: string;
  etcd: { healthy: boolean; detail: string };
  /** node -> components with a cluster backup copy. */
  backups: Record<string, string[]>;
}

export function buildStatus(i: StatusInputs): Status {
  const s = i.snapshot;
  // Two kinds of problem: something broken (degraded), or work under way or left to finish (mid-way).
  const problems: string[] = [];
  const pending: string[] = [];
  const nodes = [...s.nodes].sort((a, b) => a.name.localeCompare(b.name)).map((n) => {
    // Static here, self-hosted elsewhere, outside a run: a node that joined since the pivot (its DaemonSets keep
    // off it: it lacks their gate labels) or one a pivot run did not reach.
    const notHandedOver = PIVOT_ORDER.filter((c) => s.daemonSets[c] && modeOf(n, c) === 'static' && !gated(n, c) && s.nodes.some((o) => modeOf(o, c) === 'self-hosted'));
    if (notHandedOver.length > 0 && !unfinished(s.journal)) {
      pending.push(`${n.name} runs ${notHandedOver.join(', ')} as static pods while the other control-plane nodes run ${notHandedOver.length > 1 ? 'them' : 'it'} from DaemonSets (joined since the pivot?); the DaemonSets keep off ${n.name} until it is handed over: run "kubectl selfhost pivot" to hand it over`);
    }
    const comps: ComponentStatus[] = PIVOT_ORDER.map((c) => {
      const mode = modeOf(n, c);
      const st = findStatic(n, c);
      const hosted = n.daemonPods.find((p) => p.component === c);
      const ready = mode === 'missing' ? false : (hosted?.ready ?? st?.ready ?? null);
      if (mode === 'missing') {
        const kept = s.backups?.[n.name]?.[c] !== undefined || (i.backups[n.name] ?? []).includes(c);
        // Handed over once, and the DaemonSet keeps off the node now: its gate label went (removed by hand?).
        if (kept && s.daemonSets[c] && n.labels !== undefined && !gated(n, c)) problems.push(`${c} runs nowhere on ${n.name}: its DaemonSet keeps off the node, which lacks the label ${gateText(c)} (removed by hand?); "kubectl label node ${n.name} ${gateText(c)}" brings the DaemonSet pod back`);
        else problems.push(kept
          ? `${c} runs nowhere on ${n.name} (its DaemonSet deleted?); its original is kept: run "kubectl selfhost rollback --components ${c}" to run it static again`
          : `${c} is missing on ${n.name}, and no original of it is kept: recreate its static manifest on that node ("kubeadm init phase control-plane ${c.replace(/^kube-/, '')}")`);
      }
      else if (clusterCopyMissing(s, n, c) && !(i.backups[n.name] ?? []).includes(c)) {
        problems.push(`the cluster copy of ${c}'s original from ${n.name} is missing (its ConfigMap kubectl-selfhost-backup-${n.name} deleted?): run "kubectl selfhost pivot" to write it again from the node copy`);
      }
      // Both at once outside a run: a hand-over stopped half-way, or the original copied back by hand.
      if (mode === 'both' && !unfinished(s.journal)) pending.push(`${c} runs both static and self-hosted on ${n.name} (its static manifest copied back by hand?): run "kubectl selfhost pivot" to hand it over to its DaemonSet again, or "kubectl selfhost rollback --components ${c}" to keep it static`);
      if (mode !== 'missing' && ready === false) problems.push(`${c} on ${n.name} is not ready; see why with "kubectl -n kube-system describe pod ${hosted?.name ?? `${c}-${n.name}`}"`);
      return {
        component: c, mode, ready,
        version: (hosted?.image?.split(':').pop() ?? (st ? imageVersion(st.pod) : undefined)) ?? null,
        restarts: hosted?.restarts ?? st?.restarts ?? null,
        backup: (i.backups[n.name] ?? []).includes(c),
      };
    });
    const etcd = n.staticPods.find((p) => p.recognition.kind === 'etcd');
    if (etcd) comps.push({ component: 'etcd', mode: 'static', ready: etcd.ready ?? null, version: imageVersion(etcd.pod) ?? null, restarts: etcd.restarts ?? null, backup: false });
    if (n.ready === false) problems.push(`node ${n.name} is not Ready; see why with "kubectl describe node ${n.name}"`);
    const cp = n.checkpoint;
    const checkpoint: CheckpointStatus = {
      exists: cp?.recordedGeneration !== undefined && cp.checkpointer,
      active: cp?.active ?? false,
      matchesDaemonSet: checkpointMatches(s.daemonSets['kube-apiserver'], cp?.recordedGeneration),
      recordedGeneration: cp?.recordedGeneration ?? null,
    };
    if (modeOf(n, 'kube-apiserver') === 'self-hosted' && s.source.kind === 'cluster') {
      if (!checkpoint.exists) problems.push(`no reboot recovery on ${n.name} (no checkpoint or checkpointer); run "kubectl selfhost pivot" to install it`);
      else if (checkpoint.matchesDaemonSet === false) pending.push(`the apiserver checkpoint on ${n.name} was written from DaemonSet generation ${checkpoint.recordedGeneration}, which has been edited since; run "kubectl selfhost pivot" to re-sync it`);
    }
    if (checkpoint.exists && cp?.recordedImage && n.images && n.images.length > 0 && !n.images.includes(cp.recordedImage)) {
      problems.push(`the apiserver checkpoint on ${n.name} starts ${cp.recordedImage}, which is not on the node (removed by image garbage collection?): after a reboot it could not start without a registry; run "kubectl selfhost pivot" to re-sync it from the apiserver pod that runs`);
    }
    if (checkpointOrphaned(s.daemonSets['kube-apiserver'], n)) {
      problems.push(`the apiserver checkpoint serves on ${n.name} but the kube-apiserver DaemonSet is gone (deleted?): run "kubectl selfhost rollback --components kube-apiserver" to bring the static apiserver back (the checkpoint goes only once it serves)`);
    } else if (checkpoint.active) {
      pending.push(`the apiserver checkpoint is active on ${n.name}: recovering from a reboot until the DaemonSet pod serves (if it does not within minutes, "kubectl selfhost rollback --components kube-apiserver" brings the static apiserver back)`);
    }
    return { name: n.name, ready: n.ready, staticPodPath: n.staticPodPath, components: comps, checkpoint };
  });
  const daemonSets = PIVOT_ORDER.flatMap((c) => {
    const ds = s.daemonSets[c];
    if (!ds) return [];
    const st = ds.status ?? {};
    const generation = (ds.metadata['generation'] as number | undefined) ?? null;
    if (generation !== null && st.observedGeneration !== undefined && st.observedGeneration < generation) problems.push(`DaemonSet ${c} generation ${generation} not yet observed (${st.observedGeneration}): the DaemonSet controller has not caught up; follow it with "kubectl -n kube-system rollout status daemonset/${c}"`);
    return [{ component: c, generation, observedGeneration: st.observedGeneration ?? null, desired: st.desiredNumberScheduled ?? null, ready: st.numberReady ?? null }];
  });
  if (!i.etcd.healthy) problems.push(`etcd is not healthy: ${i.etcd.detail}; see its checks with "kubectl get --raw /readyz/etcd?verbose"`);
  if (s.journalProblem) problems.push(`${s.journalProblem}; "kubectl selfhost rollback" still works (it reads the cluster itself); to pivot, delete that ConfigMap once status shows no run under way`);
  const j = s.journal;
  const modes = new Set(nodes.flatMap((n) => n.components.filter((c) => c.component !== 'etcd').map((c) => `${c.component}:${c.mode}`)));
  const mixed = PIVOT_ORDER.some((c) => [...modes].filter((m) => m.startsWith(`${c}:`)).length > 1) || [...modes].some((m) => m.endsWith(':both'));
  for (const gone of goneNodes(s)) pending.push(`the cluster still keeps the originals of ${gone}, which is no longer a control-plane node (removed?): "kubectl -n kube-system delete configmap kubectl-selfhost-backup-${gone}" forgets them, and so does a full "kubectl selfhost rollback"`);
  if (s.endpointGuard === true && !unfinished(j)) problems.push(`the endpoint guard (ValidatingAdmissionPolicy ${GUARD_NAME}) was left in place by a run that stopped: while it is there, an apiserver that stops cannot take its address out of the kubernetes Service; run "kubectl selfhost rollback" or "kubectl selfhost pivot" to remove it`);
  if (unfinished(j)) pending.push(`the ${j.operation} run ${j.runId} is ${j.state}${j.lastError ? ` (${j.lastError})` : ''}; run "kubectl selfhost ${j.operation}" again to finish it${j.operation === 'pivot' ? ', or "kubectl selfhost rollback"' : ', or "kubectl selfhost pivot" to go back to self-hosted'}`);
  const degraded = problems.length > 0;
  return {
    apiVersion: STATUS_API_VERSION, kind: 'Status', context: i.context, nodes, daemonSets,
    journal: j ? { operation: j.operation, runId: j.runId, state: j.state, startedAt: j.startedAt, updatedAt: j.updatedAt, done: j.done, ...(j.lastError ? { lastError: j.lastError } : {}) } : null,
    etcd: i.etcd,
    summary: degraded ? 'degraded' : mixed || pending.length > 0 ? 'mid-way' : 'healthy',
    problems: [...problems, ...pending],
  };
}

/** status's exit code: 0 healthy, 1 degraded or mid-way (errors are > 1, as for every verb). */
export const statusExitCode = (s: Status): 0 | 1 => (s.summary === 'healthy' ? 0 : 1);
