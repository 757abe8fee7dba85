// Pivot's executors: each planned step (src/core/plan.ts) as a runner Step. Everything a step needs is in the
// planned step; dry run, the journal, the Lease and the fault hook are the runner's. Every run is idempotent,
// because a run killed between doing a step and recording it does the step again, and every step says how to
// re-check its outcome on resume.
import { guardStepRuns } from './endpoint-guard-steps.ts';
import { gateStepRuns } from './gate-steps.ts';
import { steerStepRuns } from './steer-steps.ts';
import { COMPONENT_INFO } from '../core/components.ts';
import type { DaemonSet, Pod } from '../core/k8s-types.ts';
import { NAMESPACE, PORT_SHARING_FLAG, SOURCE_HASH_ANNOTATION } from '../core/labels.ts';
import type { PlannedStep } from '../core/plan.ts';
import type { Step } from '../core/runner.ts';
import { sharesPort, withPortSharing } from '../core/transform/mutators.ts';
import { canonicalTemplate } from '../core/transform/canonical.ts';
import { waitFor } from '../core/wait.ts';
import { parseAll, toYaml } from '../core/yaml.ts';
import { paths, type Obj } from '../ports/kube.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { tagOf, type OpContext } from './context.ts';
import { processName } from '../core/port-sharing.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, observeServes, readiness, type LivePod } from './observe.ts';
import { podReady } from '../core/pod-state.ts';
import { CHECKPOINTER_FILE, CHECKPOINTER_POD, checkpointerPod, checkpointPod, INACTIVE_CHECKPOINT_FILE } from '../core/checkpoint.ts';
import { readClusterBackup, recordCheckpoint, writeClusterBackup } from './store.ts';
import { CHECKPOINTS_CONFIGMAP, parseCheckpointRecord } from '../sources/cluster.ts';

type Ctx = OpContext;
type S<A extends PlannedStep['action']> = Extract<PlannedStep, { action: A }>;

export function pivotSteps(steps: readonly PlannedStep[]): Step<Ctx>[] {
  return steps.map((s): Step<Ctx> => {
    const base = { id: s.id, tag: tagOf('pivot', s.component), description: s.description, writes: s.writes };
    switch (s.action) {
      case 'backup': return { ...base, run: (ctx) => backup(ctx, s), verify: (ctx) => backupExists(ctx, s) };
      case 'enable-port-sharing': return { ...base, run: (ctx) => enablePortSharing(ctx, s), verify: (ctx) => portShared(ctx, s) };
      case 'apply-daemonset': return { ...base, alwaysRun: true, run: (ctx) => applyDaemonSet(ctx, s.daemonSet) };
      case 'handover': return { ...base, run: (ctx) => handover(ctx, s), verify: (ctx) => handedOver(ctx, s) };
      case 'checkpoint': return { ...base, run: (ctx) => writeCheckpoint(ctx, s), verify: (ctx) => checkpointed(ctx, s) };
      case 'guard-endpoints': return { ...base, ...guardStepRuns(s) };
      case 'gate': return { ...base, ...gateStepRuns(s) };
      case 'steer': return { ...base, ...steerStepRuns({ ...s, op: 'pivot' }) };
    }
  });
}

/** Two manifests that differ at most in the port-sharing flag (pivot's own restart adds it). */
function sameButPortSharing(a: string, b: string): boolean {
  const norm = (t: string) => {
    const pod = parseAll(t)[0] as Pod;
    return JSON.stringify(canonicalTemplate({ metadata: pod.metadata, spec: withPortSharing(pod).spec }));
  };
  try {
    return a === b || norm(a) === norm(b);
  } catch {
    return false;
  }
}

/**
 * The node copy and the cluster copy of the manifest this hand-over will remove. A backup left by an earlier cycle
 * (a partial rollback, an edit since) that differs from the live manifest beyond pivot's own port-sharing flag is
 * replaced: the backup is always of what runs, never older.
 */
export async function backup(ctx: Pick<Ctx, 'files' | 'kube' | 'wait'>, s: S<'backup'>): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  const kept = await ctx.files.backup(s.node, dirs, s.file, s.owner);
  if (kept === null) throw new Error(`no ${s.file} in ${s.target.staticPodPath} on ${s.node} and no backup of it`);
  const live = await ctx.files.read(s.node, dirs, s.file);
  let text = kept;
  if (live !== null && !sameButPortSharing(live, kept)) {
    await ctx.files.writeBackup(s.node, dirs, s.file, live);
    text = live;
  }
  await writeClusterBackup(ctx.kube, ctx.wait, s.node, s.component, text);
  return text !== kept ? 'the backup of an earlier cycle was replaced by the manifest that runs now' : undefined;
}

async function backupExists(ctx: Pick<Ctx, 'files' | 'kube'>, s: S<'backup'>): Promise<boolean> {
  return (await readClusterBackup(ctx.kube, s.node, s.component)) !== null && (await ctx.files.readBackup(s.node, nodeDirs(s.target.staticPodPath), s.file)) !== null;
}

/**
 * Gives the static pod's listening socket SO_REUSEPORT, so that a second process can bind its port during the
 * hand-over: in place where the plan chose it (src/core/port-sharing.ts; the process keeps running), else, or when
 * the node refuses it, by restarting the static pod with the flag. In place needs no look at the manifest first
 * (one node agent pod less per node and component): a listener that already shares the port says so, and the
 * manifest is read only when the restart is the way.
 */
export async function enablePortSharing(ctx: Ctx, s: S<'enable-port-sharing'>): Promise<string | void> {
  const dirs = nodeDirs(s.target.staticPodPath);
  let fellBack = '';
  if (s.method.how === 'in-place') {
    const r = await ctx.sockets.sharePort(s.node, dirs, s.method.arch, processName(s.component), s.port);
    if (r.done) {
      // Run again after a reboot (the static pod restarted without it): a DaemonSet pod that could not bind the
      // port meanwhile waits out its crash-loop back-off (up to 5 min); deleted, it starts again at once.
      const pod = await daemonPod(ctx.kube, s.component, s.node);
      const stuck = pod && !podReady(pod) ? pod : null;
      if (stuck) await ctx.kube.delete(paths.pod(NAMESPACE, stuck.metadata.name));
      const restarted = stuck ? `; the DaemonSet pod ${stuck.metadata.name}, not ready beside it, was deleted to start again at once` : '';
      return `${r.already ? 'the running static pod already shared its port' : 'set in place on the running process: no restart'}${restarted}`;
    }
    fellBack = `; not in place (${r.why}), so by restart`;
  }
  const text = await ctx.files.read(s.node, dirs, s.file);
  if (text === null) return 'the static manifest is gone already (handed over by an earlier run)';
  const pod = parseAll(text)[0] as Pod;
  const already = sharesPort(pod);
  if (!already) await ctx.files.write(s.node, dirs, s.file, toYaml(withPortSharing(pod)));
  await waitFor(ctx.wait, tagOf('pivot', s.component), `the static ${s.component} on ${s.node} to run again with ${PORT_SHARING_FLAG}`, async () => {
    const m = await mirrorPod(ctx.kube, s.component, s.node);
    return { done: sharesPort(m) && podReady(m), seen: m ? `${describePod(m)}, flag ${sharesPort(m) ? 'present' : 'not yet'}` : 'no mirror pod yet' };
  }, () => lastEvents(ctx.kube, `${s.component}-${s.node}`));
  return already ? 'the static pod already shares its port' : fellBack ? fellBack.slice(2) : undefined;
}

async function portShared(ctx: Pick<Ctx, 'kube'>, s: S<'enable-port-sharing'>): Promise<boolean> {
  // Set in place, nothing on record says so, and a restart since would have undone it: run it again (it is idempotent).
  if (s.method.how === 'in-place') return false;
  const m = await mirrorPod(ctx.kube, s.component, s.node);
  return m === null ? (await daemonPod(ctx.kube, s.component, s.node)) !== null : sharesPort(m);
}

export async function applyDaemonSet(ctx: Pick<Ctx, 'kube'>, ds: DaemonSet): Promise<string | void> {
  const path = paths.daemonSet(NAMESPACE, ds.metadata.name!);
  const existing = await ctx.kube.get<DaemonSet & Obj>(path);
  if (!existing) {
    await ctx.kube.create(paths.daemonSets(NAMESPACE), ds as unknown as Obj);
    return;
  }
  if (existing.metadata.annotations?.[SOURCE_HASH_ANNOTATION] === ds.metadata.annotations?.[SOURCE_HASH_ANNOTATION]) return 'the DaemonSet is already as planned';
  await ctx.kube.replace(path, { ...ds, metadata: { ...ds.metadata, resourceVersion: existing.metadata['resourceVersion'] } } as unknown as Obj);
}

/**
 * The hand-over on one node, each part safe to repeat:
 *  1. wait until the DaemonSet pod on the node is ready; for the apiserver, until its own process answers
 *     (a start time from /metrics that is the new container's, not the static one's);
 *  2. remove the static manifest (the node agent refuses unless the node backup exists);
 *  3. wait for the mirror pod to go (the kubelet stopped the static pod);
 *  4. check health: the DaemonSet pod still ready; for the apiserver, only its process answers.
 */
export async function handover(ctx: Ctx, s: S<'handover'>): Promise<string | void> {
  const c = s.component;
  const tag = tagOf('pivot', c);
  const node = { name: s.node, address: s.target.address ?? undefined, port: s.port };
  const pod = () => daemonPod(ctx.kube, c, s.node);
  const detail = async () => { const p = await pod(); return p ? lastEvents(ctx.kube, p.metadata.name) : 'no DaemonSet pod was created (is the DaemonSet controller running?)'; };
  const api = COMPONENT_INFO[c].servesApi;
  await waitFor(ctx.wait, tag, `the DaemonSet pod of ${c} on ${s.node} to serve${api ? ' with its own process' : ''}`,
    () => observeServes(c, ctx.probe, node, pod, false), detail);
  await ctx.files.remove(s.node, nodeDirs(s.target.staticPodPath), s.file);
  await waitFor(ctx.wait, tag, `the static ${c} on ${s.node} to stop (mirror pod gone)`, async () => {
    const m = await mirrorPod(ctx.kube, c, s.node);
    return { done: m === null, seen: m ? describePod(m) : 'gone' };
  });
  await waitFor(ctx.wait, tag, `${c} on ${s.node} to be healthy, served by the DaemonSet pod alone`,
    () => observeServes(c, ctx.probe, node, pod, true), detail);
}

async function handedOver(ctx: Pick<Ctx, 'kube'>, s: S<'handover'>): Promise<boolean> {
  return (await mirrorPod(ctx.kube, s.component, s.node)) === null && podReady(await daemonPod(ctx.kube, s.component, s.node));
}

/**
 * Reboot recovery on one node (src/core/checkpoint.ts), before its apiserver hand-over (or, on a node already
 * self-hosted, when the DaemonSet changed): once the apiserver DaemonSet pod serves there with its own process,
 * the inactive checkpoint rendered from that pod (a spec proven to run, with an image the node has), the
 * checkpointer static pod, and the cluster record of the generation and image it was written from.
 */
export async function writeCheckpoint(ctx: Ctx, s: S<'checkpoint'>): Promise<string | void> {
  if (!s.target.address) throw new Error(`node ${s.node} has no InternalIP to advertise from its checkpoint`);
  const tag = tagOf('pivot', 'kube-apiserver');
  const node = { name: s.node, address: s.target.address, port: s.port };
  const pod = () => daemonPod(ctx.kube, 'kube-apiserver', s.node);
  await waitFor(ctx.wait, tag, `the apiserver DaemonSet pod on ${s.node} to serve with its own process (to checkpoint it)`,
    () => observeServes('kube-apiserver', ctx.probe, node, pod, false),
    async () => { const p = await pod(); return p ? `${await lastEvents(ctx.kube, p.metadata.name)}; the checkpoint keeps its last spec that ran: fix the DaemonSet ("kubectl -n kube-system rollout status ds/kube-apiserver"), then run "kubectl selfhost pivot" again` : 'no DaemonSet pod was created'; });
  const serving = await ctx.kube.get<LivePod & Pod>(paths.pod(NAMESPACE, (await pod())?.metadata.name ?? '-'));
  if (!serving || !podReady(serving)) throw new Error(`the apiserver DaemonSet pod on ${s.node} stopped serving before it could be checkpointed (${describePod(serving)}); run "kubectl selfhost pivot" again`);
  const generation = Number(serving.metadata.labels?.['pod-template-generation'] ?? 0);
  const image = serving.spec.containers[0]?.image ?? '';
  const dirs = nodeDirs(s.target.staticPodPath);
  await ctx.files.writeBackup(s.node, dirs, INACTIVE_CHECKPOINT_FILE, toYaml(checkpointPod(serving, { name: s.node, address: s.target.address }, generation)));
  await ctx.files.write(s.node, dirs, CHECKPOINTER_FILE, toYaml(checkpointerPod(ctx.agentImage, dirs, s.port)));
  await recordCheckpoint(ctx.kube, ctx.wait, s.node, { generation, image });
  await waitFor(ctx.wait, tag, `the checkpointer on ${s.node} to run`, async () => readiness(await ctx.kube.get<LivePod>(paths.pod(NAMESPACE, `${CHECKPOINTER_POD}-${s.node}`))));
  // A DaemonSet edit whose pod has not run here is never checkpointed: say so rather than let it pass as in sync.
  const desired = Number((await ctx.kube.get<DaemonSet & Obj>(paths.daemonSet(NAMESPACE, 'kube-apiserver')))?.metadata['generation'] ?? generation);
  if (desired > generation) return `checkpointed generation ${generation}, the one that runs on ${s.node}; generation ${desired} of the DaemonSet has not run there yet, so it is not checkpointed (check "kubectl -n kube-system rollout status ds/kube-apiserver", then run pivot again)`;
}

/** The checkpointer runs and the checkpoint was written from the DaemonSet's current generation (not edited since). */
async function checkpointed(ctx: Pick<Ctx, 'kube'>, s: S<'checkpoint'>): Promise<boolean> {
  const [checkpointer, ds, records] = await Promise.all([
    ctx.kube.get(paths.pod(NAMESPACE, `${CHECKPOINTER_POD}-${s.node}`)),
    ctx.kube.get<DaemonSet & Obj>(paths.daemonSet(NAMESPACE, 'kube-apiserver')),
    ctx.kube.get<Obj & { data?: Record<string, string> }>(paths.configMap(NAMESPACE, CHECKPOINTS_CONFIGMAP)),
  ]);
  return checkpointer !== null && parseCheckpointRecord(records?.data?.[s.node]).generation === ds?.metadata['generation'];
}
