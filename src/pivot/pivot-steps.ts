// Pivot's steps as data: each planned step (src/core/plan.ts) gets its run function here. Every run function is
// idempotent, because a run killed between doing a step and recording it in the journal does the step again.
import { COMPONENT_INFO, type Component } from '../core/components.ts';
import type { DaemonSet, Pod } from '../core/k8s-types.ts';
import { NAMESPACE, PORT_SHARING_FLAG, SOURCE_HASH_ANNOTATION } from '../core/labels.ts';
import type { ComponentPlan, Plan, PlannedStep } from '../core/plan.ts';
import type { Step } from '../core/runner.ts';
import { sharesPort, withPortSharing } from '../core/transform/mutators.ts';
import { waitFor } from '../core/wait.ts';
import { parseAll, toYaml } from '../core/yaml.ts';
import { paths, type Obj } from '../ports/kube.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { tagOf, type NodeRef, type OpContext } from './context.ts';
import { daemonPod, describePod, lastEvents, mirrorPod, observeServes, readiness, type LivePod } from './observe.ts';
import { podReady } from '../core/pod-state.ts';
import { CHECKPOINTER_FILE, CHECKPOINTER_POD, checkpointerPod, checkpointPod, INACTIVE_CHECKPOINT_FILE } from '../core/checkpoint.ts';
import { DEFAULT_AGENT_IMAGE } from '../ports/agent-image.ts';
import { recordCheckpoint, writeClusterBackup } from './store.ts';

type Ctx = OpContext;

export function pivotSteps(plan: Plan, nodes: readonly NodeRef[], agentImage = DEFAULT_AGENT_IMAGE): Step<Ctx>[] {
  const image = agentImage;
  return plan.steps.map((s) => {
    const cp = plan.components.find((c) => c.component === s.component)!;
    const node = nodes.find((n) => n.name === s.node);
    const base = { id: s.id, tag: tagOf('pivot', s.component), description: s.description };
    switch (s.action) {
      case 'backup': return { ...base, run: (ctx: Ctx) => backup(ctx, cp, node!) };
      case 'enable-port-sharing': return { ...base, run: (ctx: Ctx) => enablePortSharing(ctx, s.component, node!, fileOf(cp)) };
      case 'apply-daemonset': return { ...base, alwaysRun: true, run: (ctx: Ctx) => applyDaemonSet(ctx, cp.daemonSet!) };
      case 'handover': return { ...base, run: (ctx: Ctx) => handover(ctx, s, node!, fileOf(cp)) };
      case 'checkpoint': return { ...base, alwaysRun: true, run: (ctx: Ctx) => writeCheckpoint(ctx, node!, image) };
    }
  });
}

const fileOf = (cp: ComponentPlan) => cp.staticManifestFile ?? `${cp.component}.yaml`;

export async function backup(ctx: Pick<Ctx, 'files' | 'kube' | 'wait' | 'dryRun'>, cp: ComponentPlan, node: NodeRef): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: no backup written';
  const text = await ctx.files.backup(node.name, nodeDirs(node.staticPodPath), fileOf(cp));
  if (text === null) throw new Error(`no ${fileOf(cp)} in ${node.staticPodPath} on ${node.name} and no backup of it`);
  await writeClusterBackup(ctx.kube, ctx.wait, node.name, cp.component, text, false);
}

/** Restarts the static pod with SO_REUSEPORT, so that a second process can bind its port during the hand-over. */
export async function enablePortSharing(ctx: Ctx, c: Component, node: NodeRef, file: string): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: static manifest left as it is';
  const dirs = nodeDirs(node.staticPodPath);
  const text = await ctx.files.read(node.name, dirs, file);
  if (text === null) return 'the static manifest is gone already (handed over by an earlier run)';
  const pod = parseAll(text)[0] as Pod;
  const already = sharesPort(pod);
  if (!already) await ctx.files.write(node.name, dirs, file, toYaml(withPortSharing(pod)));
  await waitFor(ctx.wait, tagOf('pivot', c), `the static ${c} on ${node.name} to run again with ${PORT_SHARING_FLAG}`, async () => {
    const m = await mirrorPod(ctx.kube, c, node.name);
    return { done: sharesPort(m) && podReady(m), seen: m ? `${describePod(m)}, flag ${sharesPort(m) ? 'present' : 'not yet'}` : 'no mirror pod yet' };
  }, () => lastEvents(ctx.kube, `${c}-${node.name}`));
  return already ? 'the static pod already shares its port' : undefined;
}

export async function applyDaemonSet(ctx: Pick<Ctx, 'kube' | 'dryRun'>, ds: DaemonSet): Promise<string | void> {
  if (ctx.dryRun === 'client') return 'dry run (client): nothing sent';
  const dryRun = ctx.dryRun === 'server';
  const path = paths.daemonSet(NAMESPACE, ds.metadata.name!);
  const existing = await ctx.kube.get<DaemonSet & Obj>(path);
  if (!existing) {
    await ctx.kube.create(paths.daemonSets(NAMESPACE), ds as unknown as Obj, { dryRun });
    return dryRun ? 'dry run (server): create accepted' : undefined;
  }
  if (existing.metadata.annotations?.[SOURCE_HASH_ANNOTATION] === ds.metadata.annotations?.[SOURCE_HASH_ANNOTATION]) return 'the DaemonSet is already as planned';
  await ctx.kube.replace(path, { ...ds, metadata: { ...ds.metadata, resourceVersion: existing.metadata['resourceVersion'] } } as unknown as Obj, { dryRun });
  return dryRun ? 'dry run (server): update accepted' : undefined;
}

/**
 * The hand-over on one node, each part safe to repeat:
 *  1. wait until the DaemonSet pod on the node is ready; for the apiserver, until its own process answers
 *     (a start time from /metrics that is the new container's, not the static one's);
 *  2. remove the static manifest (the node agent refuses unless the node backup exists);
 *  3. wait for the mirror pod to go (the kubelet stopped the static pod);
 *  4. check health: the DaemonSet pod still ready; for the apiserver, only its process answers.
 */
export async function handover(ctx: Ctx, s: PlannedStep, node: NodeRef, file: string): Promise<string | void> {
  const c = s.component;
  if (ctx.dryRun !== 'none') return 'dry run: nothing handed over';
  const tag = tagOf('pivot', c);
  const pod = () => daemonPod(ctx.kube, c, node.name);
  const detail = async () => { const p = await pod(); return p ? lastEvents(ctx.kube, p.metadata.name) : 'no DaemonSet pod was created (is the DaemonSet controller running?)'; };
  const api = COMPONENT_INFO[c].servesApi;
  await waitFor(ctx.wait, tag, `the DaemonSet pod of ${c} on ${node.name} to serve${api ? ' with its own process' : ''}`,
    () => observeServes(c, ctx.probe, node, pod, false), detail);
  await ctx.files.remove(node.name, nodeDirs(node.staticPodPath), file);
  await waitFor(ctx.wait, tag, `the static ${c} on ${node.name} to stop (mirror pod gone)`, async () => {
    const m = await mirrorPod(ctx.kube, c, node.name);
    return { done: m === null, seen: m ? describePod(m) : 'gone' };
  });
  await waitFor(ctx.wait, tag, `${c} on ${node.name} to be healthy, served by the DaemonSet pod alone`,
    () => observeServes(c, ctx.probe, node, pod, true), detail);
}

/**
 * Reboot recovery on one node (src/core/checkpoint.ts): the inactive checkpoint rendered from the apiserver
 * DaemonSet as it is now, the checkpointer static pod, and the cluster record of the generation it was written
 * from (so that status can tell when the DaemonSet was edited since). Needs the DaemonSet pod serving already.
 */
export async function writeCheckpoint(ctx: Ctx, node: NodeRef, image: string): Promise<string | void> {
  if (ctx.dryRun !== 'none') return 'dry run: no checkpoint written';
  if (!node.address) throw new Error(`node ${node.name} has no InternalIP to advertise from its checkpoint`);
  const ds = await ctx.kube.get<DaemonSet & Obj>(paths.daemonSet(NAMESPACE, 'kube-apiserver'));
  if (!ds) return 'no apiserver DaemonSet: nothing to checkpoint';
  const generation = Number(ds.metadata['generation'] ?? 0);
  const dirs = nodeDirs(node.staticPodPath);
  await ctx.files.writeBackup(node.name, dirs, INACTIVE_CHECKPOINT_FILE, toYaml(checkpointPod(ds.spec.template, node.address, generation)));
  await ctx.files.write(node.name, dirs, CHECKPOINTER_FILE, toYaml(checkpointerPod(image, dirs, COMPONENT_INFO['kube-apiserver'].port)));
  await recordCheckpoint(ctx.kube, ctx.wait, node.name, generation);
  await waitFor(ctx.wait, tagOf('pivot', 'kube-apiserver'), `the checkpointer on ${node.name} to run`, async () => {
    const m = await ctx.kube.get<LivePod>(paths.pod(NAMESPACE, `${CHECKPOINTER_POD}-${node.name}`));
    return readiness(m);
  });
}
