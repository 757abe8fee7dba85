/**
 * pivot: static pods -> DaemonSets. The algorithm, in the order the code below runs it:
 *  1. access review of everything pivot does (one line lists what is missing), then read the cluster; give a
 *     static control plane that restarted a moment ago --timeout to be ready again (but refuse at once where no
 *     wait can help: the apiserver checkpoint serving with its DaemonSet deleted);
 *  2. refuse what cannot be pivoted, before anything else: an unreadable journal, a
 *     component that runs nowhere on a node, a node or static pod not ready, a blocked component;
 *  3. plan from what was read (pure, src/core/plan.ts) and show it; confirmation (or --yes);
 *  4. access review of the per-node objects, then the Lease: nothing at all is written before this point;
 *  5. under the Lease, read the cluster again and plan again: if that differs from what was confirmed, stop;
 *  6. read the real manifests through node agents and plan from them (the DaemonSets are built from the files,
 *     not from the mirror pods, which carry API defaults); refuse a component blocked by the files;
 *  7. run the steps (one runner: journal, resume re-checks, dry run, the fault hook, the Lease guard): per
 *     component (scheduler, controller-manager, apiserver): back up on every node; restart the static pods with
 *     --permit-port-sharing if they lack it; label each node with the component's node gate (the DaemonSet
 *     selects only such nodes, so a node that joins later gets no pod beside kubeadm's static ones); apply the
 *     DaemonSet; node by node, hand over, and for the apiserver write that node's checkpoint at once (no
 *     reboot window);
 *  8. release the Lease (underLock does, whatever happened).
 */
import { PreconditionError } from '../core/errors.ts';
import type { Journal } from '../core/journal.ts';
import { buildPlan, type Plan } from '../core/plan.ts';
import type { Snapshot } from '../core/snapshot.ts';
import { waitFor } from '../core/wait.ts';
import { nodeDirs } from '../ports/nodefs.ts';
import { parseStaticPod } from '../sources/manifests-dir.ts';
import type { OpContext } from './context.ts';
import { assertUnchanged, confirmOrRefuse, nothingToDo, preflightAccess, runOperation, underLock, type OpArgs, type OpEnv } from './operation.ts';
import { pivotSteps } from './pivot-steps.ts';
import { checkHealthy, notReady, orphanedCheckpoint } from './preflight.ts';

export async function runPivot(env: OpEnv, a: OpArgs): Promise<{ plan: Plan; journal: Journal | null }> {
  const { session, emit, clock } = env;
  const plan = (s: Snapshot) => buildPlan(s, { components: a.components, helperArchs: env.nodeHelper?.archs ?? [] }, clock.now());
  // 1.
  await preflightAccess(env, 'pivot', a.dryRun);
  let snapshot = await session.readSnapshot();
  const orphan = orphanedCheckpoint(snapshot);
  if (orphan) throw new PreconditionError(orphan);
  if (notReady(snapshot, a.components) !== null) {
    await waitFor({ clock, emit, timeoutMs: a.timeoutMs }, '[pivot]', 'the static control plane to be ready', async () => {
      snapshot = await session.readSnapshot();
      const why = notReady(snapshot, a.components);
      return { done: why === null, seen: why ?? 'ready' };
    }).catch((err: unknown) => {
      // Still not ready after --timeout: nothing was changed, so a refusal (exit 5) that says why, not a failure.
      const why = notReady(snapshot, a.components);
      throw why === null ? err : new PreconditionError(`${why} (waited ${Math.round(a.timeoutMs / 1000)}s)`);
    });
  }
  // 2.
  if (snapshot.journalProblem) throw new PreconditionError(`${snapshot.journalProblem}; pivot cannot tell what an earlier run did: check "kubectl selfhost status", then delete that ConfigMap or run "kubectl selfhost rollback"`);
  checkHealthy(snapshot, a.components);
  const confirmed = plan(snapshot);
  refuseBlocked(confirmed, '');
  // 3.
  for (const w of confirmed.warnings) emit({ type: 'warn', tag: '[pivot]', message: w.message });
  for (const c of confirmed.components.filter((x) => x.action === 'skip')) emit({ type: 'info', tag: `[pivot/${c.component}]`, message: `skipped: ${c.reason}` });
  // Nothing left to do, but a killed run's journal says it did not finish: finish it (its steps re-checked), or,
  // when it was a rollback that had changed nothing yet, record this pivot as finished in its place.
  if (nothingToDo(confirmed.steps.length, snapshot.journal, a.dryRun)) return { plan: confirmed, journal: null };
  if (confirmed.steps.length > 0) {
    confirmed.steps.forEach((s, i) => emit({ type: 'info', tag: `[pivot/${s.component}]`, message: `${i + 1}. ${s.description} (cost: ${s.cost})` }));
    await confirmOrRefuse(a.confirm, `Pivot ${confirmed.components.filter((c) => c.action === 'pivot').map((c) => c.component).join(', ')} on context "${session.context}" in ${confirmed.steps.length} steps?`, 'pivot');
  } else {
    emit({ type: 'info', tag: '[pivot]', message: snapshot.journal!.operation === 'pivot' ? `every step of the unfinished run ${snapshot.journal!.runId} is done; recording it as finished` : `nothing to pivot; the unfinished rollback run ${snapshot.journal!.runId} is superseded by this pivot` });
  }
  if (a.dryRun === 'client') return { plan: confirmed, journal: await runOperation(env, undefined as never, 'pivot', pivotSteps(confirmed.steps), null, a, async () => undefined) };
  // 4.
  return underLock(env, a, 'pivot', snapshot.nodes.map((n) => n.name), async (ctx, guard) => {
    // 5.
    const now = await session.readSnapshot();
    assertUnchanged('pivot', confirmed, plan(now));
    // 6.
    const final = a.dryRun === 'none' ? plan(await withNodeFiles(ctx, now, a.components)) : plan(now);
    // The files can say what the mirror pods did not yet (a manifest edited since the kubelet last read it): a
    // component blocked by them would otherwise be left out of the run without a word.
    refuseBlocked(final, ' (in the manifests read from the nodes; nothing was changed on the nodes)');
    // 7.
    const journal = await runOperation(env, ctx, 'pivot', pivotSteps(final.steps), now.journal, a, guard);
    return { plan: final, journal };
  });
}

function refuseBlocked(p: Plan, where: string): void {
  const blocked = p.components.filter((c) => c.action === 'blocked');
  if (blocked.length > 0) throw new PreconditionError(`cannot pivot ${blocked.map((c) => `${c.component} (${c.reason})`).join(', ')}${where}; see "kubectl selfhost plan"`);
}

/** Replaces the mirror pods' view of each static pod with the manifest file itself, read by a node agent. */
async function withNodeFiles(ctx: OpContext, s: Snapshot, components: readonly string[]): Promise<Snapshot> {
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
