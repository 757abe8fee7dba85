// pivot and rollback, wired: read the cluster, check, plan, confirm, then execute the steps with the real ports.
// The pivot algorithm, in order (each step idempotent, recorded in the journal as it completes):
//  1. preflight: static control plane present and ready; access (SelfSubjectAccessReview); no other run (Lease);
//  2. plan from what the cluster shows, and confirmation;
//  3. read the real manifests through node agents and plan again from them (the DaemonSets are built from the
//     files, not from the mirror pods, which carry API defaults);
//  4. per component (scheduler, controller-manager, apiserver), per node: back up (node + cluster copy); restart
//     the static pod with --permit-port-sharing if it lacks it; create the DaemonSet; hand over (DaemonSet pod
//     proven serving, static manifest removed, mirror pod gone, healthy).
import type { Component } from '../core/components.ts';
import { PreconditionError } from '../core/errors.ts';
import type { Emit } from '../core/events.ts';
import type { Journal } from '../core/journal.ts';
import { buildPlan, type Plan } from '../core/plan.ts';
import type { Snapshot } from '../core/snapshot.ts';
import type { Clock } from '../ports/clock.ts';
import { agentNodeFiles } from '../ports/agent.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import type { Session } from '../session.ts';
import { parseStaticPod } from '../sources/manifests-dir.ts';
import type { DryRun, NodeRef, OpContext } from './context.ts';
import { assertNoForeignRun, confirmOrRefuse, execute, type Confirm } from './operation.ts';
import { checkHealthy, notReady } from './preflight.ts';
import { waitFor } from '../core/wait.ts';
import { rollbackPlan, rollbackSteps } from './rollback-steps.ts';
import { pivotSteps } from './pivot-steps.ts';

export interface OpArgs {
  components: Component[];
  dryRun: DryRun;
  timeoutMs: number;
  agentImage: string;
  confirm: Confirm;
}

export function opContext(session: Session, a: Pick<OpArgs, 'dryRun' | 'timeoutMs' | 'agentImage'>, emit: Emit, clock: Clock): OpContext {
  const wait = { clock, emit, timeoutMs: a.timeoutMs, pollMs: 1000 };
  return { kube: session.kube, files: agentNodeFiles({ kube: session.kube, wait, image: a.agentImage }), probe: session.probe, clock, emit, wait, dryRun: a.dryRun };
}

export const nodeRefs = (s: Snapshot): NodeRef[] => s.nodes.map((n) => ({ name: n.name, staticPodPath: n.staticPodPath, address: n.address }));

export async function runPivot(session: Session, a: OpArgs, emit: Emit, clock: Clock): Promise<{ plan: Plan; journal: Journal | null }> {
  let snapshot = await session.readSnapshot();
  // A control plane that restarted a moment ago (leader election lost, API blip) gets --timeout to be ready again.
  if (notReady(snapshot, a.components) !== null) {
    await waitFor({ clock, emit, timeoutMs: a.timeoutMs }, '[pivot]', 'the static control plane to be ready', async () => {
      snapshot = await session.readSnapshot();
      const why = notReady(snapshot, a.components);
      return { done: why === null, seen: why ?? 'ready' };
    });
  }
  assertNoForeignRun(snapshot.journal, 'pivot');
  checkHealthy(snapshot, a.components);
  let plan = buildPlan(snapshot, { components: a.components }, clock.now());
  const blocked = plan.components.filter((c) => c.action === 'blocked');
  if (blocked.length > 0) throw new PreconditionError(`cannot pivot ${blocked.map((c) => `${c.component} (${c.reason})`).join(', ')}; see "kubectl selfhost plan"`);
  for (const w of plan.warnings) emit({ type: 'warn', tag: '[pivot]', message: w.message });
  for (const c of plan.components.filter((x) => x.action === 'skip')) emit({ type: 'info', tag: `[pivot/${c.component}]`, message: `skipped: ${c.reason}` });
  if (plan.steps.length === 0) return { plan, journal: null };
  plan.steps.forEach((s, i) => emit({ type: 'info', tag: `[pivot/${s.component}]`, message: `${i + 1}. ${s.description} (cost: ${s.cost})` }));
  await confirmOrRefuse(a.confirm, `Pivot ${plan.components.filter((c) => c.action === 'pivot').map((c) => c.component).join(', ')} on context "${session.context}" in ${plan.steps.length} steps?`, 'pivot');
  const ctx = opContext(session, a, emit, clock);
  if (a.dryRun === 'none') plan = buildPlan(await withNodeFiles(ctx, snapshot, a.components), { components: a.components }, clock.now());
  const journal = await execute(ctx, 'pivot', pivotSteps(plan, nodeRefs(snapshot), a.agentImage), snapshot.journal, a.components);
  return { plan, journal };
}

/** Replaces the mirror pods' view of each static pod with the manifest file itself, read by a node agent. */
async function withNodeFiles(ctx: OpContext, s: Snapshot, components: readonly Component[]): Promise<Snapshot> {
  const nodes = await Promise.all(s.nodes.map(async (n) => ({
    ...n,
    staticPods: await Promise.all(n.staticPods.map(async (sp) => {
      if (sp.recognition.kind !== 'component' || !components.includes(sp.recognition.component) || !sp.file) return sp;
      const text = await ctx.files.read(n.name, nodeDirs(n.staticPodPath), sp.file);
      return text === null ? sp : { ...parseStaticPod(text, sp.file, `${n.name}:${n.staticPodPath}/${sp.file}`), ready: sp.ready, restarts: sp.restarts };
    })),
  })));
  return { ...s, nodes };
}

export async function runRollback(session: Session, a: OpArgs & { exact: boolean }, emit: Emit, clock: Clock): Promise<Journal> {
  const snapshot = await session.readSnapshot();
  const nodes = nodeRefs(snapshot);
  const steps = rollbackPlan(nodes, { components: a.components, exact: a.exact });
  if (snapshot.journal && snapshot.journal.state !== 'completed') emit({ type: 'info', tag: '[rollback]', message: `the journal shows an unfinished ${snapshot.journal.operation} (run ${snapshot.journal.runId}, ${snapshot.journal.done.length} step(s) done); rolling back from there` });
  steps.forEach((s, i) => emit({ type: 'info', tag: s.component ? `[rollback/${s.component}]` : '[rollback]', message: `${i + 1}. ${s.description}` }));
  await confirmOrRefuse(a.confirm, `Roll back ${a.components.join(', ')} to static pods on context "${session.context}"?`, 'rollback');
  const ctx = opContext(session, a, emit, clock);
  return execute(ctx, 'rollback', rollbackSteps(nodes, { components: a.components, exact: a.exact }), snapshot.journal, a.components);
}
