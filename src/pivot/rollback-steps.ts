// Rollback's executors: each planned step (src/core/rollback-plan.ts) as a runner Step. The same no-pause
// hand-over as pivot's in the other direction: the restored static pod shares the port with the DaemonSet pod
// until the DaemonSet goes. Two rules hold whatever the state: a checkpoint is removed only once the node's static
// apiserver serves, and a DaemonSet is deleted only once every node it runs on has a serving static instance.
import { guardStepRuns } from './endpoint-guard-steps.ts';
import { gateStepRuns } from './gate-steps.ts';
import { steer, steerStepRuns } from './steer-steps.ts';
import { COMPONENT_INFO, type Component } from '../core/components.ts';
import { PreconditionError } from '../core/errors.ts';
import type { Pod } from '../core/k8s-types.ts';
import { CONTROL_PLANE_ROLE, NAMESPACE } from '../core/labels.ts';
import { podReady } from '../core/pod-state.ts';
import type { RollbackStep } from '../core/rollback-plan.ts';
import type { Step } from '../core/runner.ts';
import { sharesPort, withPortSharing } from '../core/transform/mutators.ts';
import { componentContainerIndex } from '../core/transform/to-static.ts';
import { canonicalTemplate } from '../core/transform/canonical.ts';
import { waitFor, WaitTimeoutError } from '../core/wait.ts';
import { parseAll, toYaml } from '../core/yaml.ts';
import { paths } from '../ports/kube.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { ACTIVE_CHECKPOINT_FILE, CHECKPOINT_POD, CHECKPOINTER_FILE, CHECKPOINTER_POD, INACTIVE_CHECKPOINT_FILE } from '../core/checkpoint.ts';
import { tagOf, type NodeRef, type OpContext } from './context.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, observeServes, servingStartTimes, startedAt, type LivePod, type Others } from './observe.ts';
import { backupConfigMapName, deleteClusterBackup, readClusterBackup, recordCheckpoint } from './store.ts';

type Ctx = OpContext;
type S<A extends RollbackStep['action']> = Extract<RollbackStep, { action: A }>;

export function rollbackSteps(steps: readonly RollbackStep[]): Step<Ctx>[] {
  return steps.map((s): Step<Ctx> => {
    const base = { id: s.id, tag: s.component ? tagOf('rollback', s.component) : '[rollback]', description: s.description, writes: s.writes };
    switch (s.action) {
      case 'restore': return { ...base, run: (ctx) => restore(ctx, s), verify: (ctx) => staticServes(ctx, s.component, s.node) };
      case 'uncheckpoint': return { ...base, run: (ctx) => removeCheckpoint(ctx, s), verify: (ctx) => checkpointGone(ctx, s.node) };
      case 'delete-daemonset': return { ...base, run: (ctx) => deleteDaemonSet(ctx, s), serverDryRun: (ctx) => deleteDaemonSetDryRun(ctx, s), verify: async (ctx) => (await ctx.kube.get(paths.daemonSet(NAMESPACE, s.component))) === null };
      case 'exact': return { ...base, run: (ctx) => exact(ctx, s) };
      case 'cleanup': return { ...base, run: (ctx) => cleanup(ctx, s) };
      case 'forget-node': return { ...base, run: (ctx) => forgetNode(ctx, s), verify: async (ctx) => (await ctx.kube.get(paths.configMap(NAMESPACE, backupConfigMapName(s.node)))) === null };
      case 'guard-endpoints': return { ...base, ...guardStepRuns(s) };
      case 'gate': return { ...base, ...gateStepRuns(s) };
      case 'steer': return { ...base, ...steerStepRuns({ ...s, op: 'rollback' }) };
    }
  });
}

const observed = (s: { node: string; target: { address: string | null }; port: number }): NodeRef => ({ name: s.node, address: s.target.address ?? undefined, port: s.port });
const commandOf = (p: { spec: { containers: Array<{ name: string; command?: string[]; args?: string[] }> } } | null, c: Component) => {
  const x = p?.spec.containers[componentContainerIndex(c, p.spec.containers as never)];
  return JSON.stringify([x?.command ?? [], x?.args ?? []]);
};

/** The manifest to write: the planned one, else the node copy of the original (with port sharing). */
async function manifestFor(ctx: Ctx, s: S<'restore'>): Promise<string> {
  if (s.manifest !== null) return s.manifest;
  const dirs = nodeDirs(s.target.staticPodPath);
  const text = await ctx.files.readBackup(s.node, dirs, s.file);
  if (text === null) {
    throw new PreconditionError(`no copy of ${s.component}'s manifest for ${s.node}: no DaemonSet, no cluster copy (ConfigMap kube-system/kubectl-selfhost-backup-${s.node}) and no node copy (${dirs.backup}/${s.file}); regenerate it with "kubeadm init phase control-plane ${s.component.replace('kube-', '')}" on the node`);
  }
  const pod = parseAll(text)[0] as Pod;
  return sharesPort(pod) ? text : toYaml(withPortSharing(pod));
}

/** Writes the node's static manifest (unless it is there already) and waits until that static pod serves. */
export async function restore(ctx: Ctx, s: S<'restore'>): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const text = await manifestFor(ctx, s);
  const current = await ctx.files.read(s.node, dirs, s.file);
  // A static pod that already runs what would be written (a run killed mid-hand-over) is not restarted for nothing.
  const inPlace = current !== null && (current === text || sameSpec(current, text));
  // The apiserver processes that answer before the write (the DaemonSet pod's; an old static one still shutting
  // down, after a pivot killed once it had removed the manifest) are not the restored one: the DaemonSet is
  // deleted next, so the restored process must be proven to be a new one.
  const before = !inPlace && COMPONENT_INFO[s.component].servesApi ? await servingStartTimes(ctx.probe, observed(s), 24) : [];
  if (!inPlace && s.from === 'checkpoint') await holdCheckpoint(ctx, s);
  if (!inPlace) await ctx.files.write(s.node, dirs, s.file, text);
  // Steered (src/core/steering.ts): other hosts reach the restored process only once it answers at the probe address.
  const steered = s.steer ? await steer(ctx, { ...s.steer, node: s.node, target: s.target, port: s.port, to: 'new', op: 'rollback' }) : undefined;
  await waitUntilStaticServes(ctx, s.component, observed(s), commandOf(parseAll(inPlace ? current : text)[0] as Pod, s.component), false, { before });
  return [inPlace ? 'the static manifest in place runs the same spec already' : '', steered ?? ''].filter(Boolean).join('; ') || undefined;
}

/**
 * Restoring beside a serving checkpoint: the checkpointer is stopped first. It retires an active checkpoint as soon
 * as a second apiserver listens beside it, before the restored one answers, which would take the node's serving
 * apiserver away mid-hand-over (and the steering's old side with it). The checkpoint itself keeps serving; it goes
 * with the uncheckpoint step, once the restored apiserver serves. Removing the checkpointer's file is idempotent.
 */
async function holdCheckpoint(ctx: Ctx, s: S<'restore'>): Promise<void> {
  await ctx.files.removeOwned(s.node, nodeDirs(s.target.staticPodPath), CHECKPOINTER_FILE);
  await waitFor(ctx.wait, tagOf('rollback', 'kube-apiserver'), `the checkpointer on ${s.node} to stop (the checkpoint serves on until the restored apiserver does)`, async () => {
    const done = await mirrorPodsGone(ctx, [CHECKPOINTER_POD], s.node);
    return { done, seen: done ? 'gone' : 'mirror pod still there' };
  });
}

/** The same pod, API defaults aside (src/core/transform/canonical.ts). */
function sameSpec(a: string, b: string): boolean {
  try {
    const canon = (t: string) => { const p = parseAll(t)[0] as Pod; return JSON.stringify(canonicalTemplate({ metadata: { labels: p.metadata.labels ?? {} }, spec: p.spec })); };
    return canon(a) === canon(b);
  } catch {
    return false;
  }
}

/** others: fixed, or read again at each look (a pod beside it may restart meanwhile). */
async function waitUntilStaticServes(ctx: Ctx, c: Component, node: NodeRef, wantCommand: string | null, only: boolean, others: Others | (() => Promise<Others>) = {}): Promise<void> {
  const mirror = () => mirrorPod(ctx.kube, c, node.name);
  await waitFor(ctx.wait, tagOf('rollback', c), `the static ${c} on ${node.name} to serve${only ? ' alone' : ''}`, async () => {
    const m = await mirror();
    if (wantCommand !== null && m && commandOf(m as never, c) !== wantCommand) return { done: false, seen: `${describePod(m)} (the previous manifest still runs)` };
    if (!m) return { done: false, seen: 'no mirror pod yet' };
    return observeServes(c, ctx.probe, node, async () => m, only, typeof others === 'function' ? await others() : others);
  }, () => lastEvents(ctx.kube, `${c}-${node.name}`));
}

/**
 * Before the DaemonSet or the checkpoint goes from a node: its static instance serves there, for the apiserver with
 * a process of its own, not the DaemonSet pod's or the active checkpoint's beside it (a static apiserver that stopped
 * since it was restored may still look ready in its mirror pod). Their starts are read at each look, since either
 * may restart meanwhile. A static pod the kubelet is starting again, or a readiness probe that fails for a moment
 * (a shutting-down apiserver on the shared port answers /readyz with an error), is waited for up to --timeout;
 * then refused with refusal(what was seen).
 */
async function untilStaticServesAlone(ctx: Ctx, c: Component, n: NodeRef, refusal: (seen: string) => string): Promise<void> {
  const beside = async (): Promise<Others> => {
    const pods = [await daemonPod(ctx.kube, c, n.name), c === 'kube-apiserver' ? await ctx.kube.get<LivePod>(paths.pod(NAMESPACE, `${CHECKPOINT_POD}-${n.name}`)) : null];
    return { beside: pods.map(startedAt).filter((t): t is number => t !== undefined) };
  };
  await waitUntilStaticServes(ctx, c, n, null, false, beside).catch((err: unknown) => {
    if (!(err instanceof WaitTimeoutError)) throw err;
    throw new PreconditionError(refusal(err.seen));
  });
}

async function staticServes(ctx: Pick<Ctx, 'kube'>, c: Component, node: string): Promise<boolean> {
  return podReady(await mirrorPod(ctx.kube, c, node));
}

/**
 * Reboot recovery off on one node, once its static apiserver serves: an active checkpoint may be the node's only
 * apiserver (the DaemonSet deleted by hand, its pod unable to start), so it goes only after the static one proved.
 */
export async function removeCheckpoint(ctx: Ctx, s: S<'uncheckpoint'>): Promise<string | void> {
  const node = observed(s);
  await untilStaticServesAlone(ctx, 'kube-apiserver', node, (seen) => `not removing the apiserver checkpoint on ${s.node}: the static apiserver does not serve there (${seen}), and the checkpoint may be the node's only apiserver; run "kubectl selfhost rollback" again once it serves`);
  const dirs = nodeDirs(s.target.staticPodPath);
  await ctx.files.removeOwned(s.node, dirs, CHECKPOINTER_FILE);
  await ctx.files.removeOwned(s.node, dirs, ACTIVE_CHECKPOINT_FILE);
  await ctx.files.removeBackup(s.node, dirs, INACTIVE_CHECKPOINT_FILE);
  await recordCheckpoint(ctx.kube, ctx.wait, s.node, null);
  await waitFor(ctx.wait, tagOf('rollback', 'kube-apiserver'), `the checkpointer on ${s.node} to stop`, async () => {
    const done = await checkpointGone(ctx, s.node);
    return { done, seen: done ? 'gone' : 'mirror pod still there' };
  });
  await waitUntilStaticServes(ctx, 'kube-apiserver', node, null, false);
}

/** Whether none of these static pods (by name, without the node suffix) has a mirror pod on the node any more. */
async function mirrorPodsGone(ctx: Pick<Ctx, 'kube'>, pods: readonly string[], node: string): Promise<boolean> {
  const left = await Promise.all(pods.map((p) => ctx.kube.get(paths.pod(NAMESPACE, `${p}-${node}`))));
  return left.every((p) => p === null);
}

function checkpointGone(ctx: Pick<Ctx, 'kube'>, node: string): Promise<boolean> {
  return mirrorPodsGone(ctx, [CHECKPOINTER_POD, CHECKPOINT_POD], node);
}

/** Deletes the DaemonSet only when no node would be left without the component, then waits for the static pods alone. */
export async function deleteDaemonSet(ctx: Ctx, s: S<'delete-daemonset'>): Promise<string | void> {
  const c = s.component;
  const nodes = s.targets.map((t) => ({ name: t.name, address: t.address ?? undefined, port: s.port }));
  for (const n of nodes) {
    await untilStaticServesAlone(ctx, c, n, (seen) => `not deleting DaemonSet kube-system/${c}: the static ${c} does not serve on ${n.name} (${seen}), and the DaemonSet pod may be its last instance there; run "kubectl selfhost rollback" again once it serves`);
  }
  const gone = await ctx.kube.delete(paths.daemonSet(NAMESPACE, c), { propagationPolicy: 'Background' });
  for (const n of nodes) {
    await waitFor(ctx.wait, tagOf('rollback', c), `the DaemonSet pod of ${c} on ${n.name} to go`, async () => {
      const p = await daemonPod(ctx.kube, c, n.name);
      return { done: p === null, seen: p ? describePod(p) : 'gone' };
    });
    await waitUntilStaticServes(ctx, c, n, null, true);
  }
  return gone ? undefined : 'the DaemonSet was gone already';
}

/** --dry-run=server: the delete alone, for the API server to judge; nothing was restored, so nothing is checked or awaited. */
async function deleteDaemonSetDryRun(ctx: Pick<Ctx, 'kube'>, s: S<'delete-daemonset'>): Promise<string> {
  await ctx.kube.delete(paths.daemonSet(NAMESPACE, s.component), { propagationPolicy: 'Background' });
  return 'dry run (server): the API server accepts the delete; the static pods were not restored, so they were not checked';
}

/** --exact: the byte-identical original back in place (the kubelet restarts the static pod without the flag). */
export async function exact(ctx: Ctx, s: S<'exact'>): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const original = s.manifest ?? (await ctx.files.readBackup(s.node, dirs, s.file)) ?? (await readClusterBackup(ctx.kube, s.node, s.component));
  if (original === null) return 'no original kept: the static manifest stays as it is';
  const current = await ctx.files.read(s.node, dirs, s.file);
  if (current !== original) await ctx.files.write(s.node, dirs, s.file, original);
  await waitUntilStaticServes(ctx, s.component, observed(s), commandOf(parseAll(original)[0] as Pod, s.component), true);
  return current === original ? 'the original was in place already' : undefined;
}

/**
 * Removes, per component, the node and cluster copies of an original once the component runs static on the node
 * and has no DaemonSet left. A copy of anything else is kept: it may be the last one. The directory goes only when
 * no original is left in it (the agent refuses otherwise).
 */
export async function cleanup(ctx: Ctx, s: S<'cleanup'>): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const kept: string[] = [];
  let clusterLeft = false;
  for (const c of s.components) {
    const staticRuns = podReady(await mirrorPod(ctx.kube, c, s.node));
    const hosted = (await ctx.kube.get(paths.daemonSet(NAMESPACE, c))) !== null;
    if (!staticRuns || hosted) {
      if ((await readClusterBackup(ctx.kube, s.node, c)) !== null) kept.push(`${c} (${hosted ? 'still self-hosted' : 'not running static'})`);
      continue;
    }
    await ctx.files.removeBackup(s.node, dirs, `${c}.yaml`);
    clusterLeft = (await deleteClusterBackup(ctx.kube, ctx.wait, s.node, c)) === 'kept-others';
  }
  const others = (['kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const).filter((c) => !s.components.includes(c));
  const otherLeft = (await Promise.all(others.map((c) => readClusterBackup(ctx.kube, s.node, c)))).some((t) => t !== null);
  if (kept.length === 0 && !clusterLeft && !otherLeft && (await ctx.kube.get<LivePod>(paths.pod(NAMESPACE, `${CHECKPOINTER_POD}-${s.node}`))) === null) {
    await ctx.files.removeBackups(s.node, dirs);
    return;
  }
  return kept.length ? `kept the originals of ${kept.join(', ')}` : 'kept the backup directory: other originals are in it';
}

/**
 * A node no longer in the cluster: its cluster copies and checkpoint record go, unless it has come back as a
 * control-plane node since the plan (a kubelet re-registers its Node within seconds of a hand deletion).
 */
export async function forgetNode(ctx: Ctx, s: S<'forget-node'>): Promise<string | void> {
  const back = await ctx.kube.list(paths.nodes(), { labelSelector: CONTROL_PLANE_ROLE, fieldSelector: `metadata.name=${s.node}` });
  if (back.length > 0) return `${s.node} is a control-plane node again: its backups are kept`;
  await recordCheckpoint(ctx.kube, ctx.wait, s.node, null);
  await ctx.kube.delete(paths.configMap(NAMESPACE, backupConfigMapName(s.node)));
}

export const servesApi = (c: Component) => COMPONENT_INFO[c].servesApi;
