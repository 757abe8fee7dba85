/**
 * rollback: back to static pods, from any state. The algorithm, in the order the code below runs it:
 *  1. access review of everything rollback does, then read the cluster (an unreadable journal is reported and set
 *     aside: rollback reads the cluster itself);
 *  2. plan (pure, src/core/rollback-plan.ts): per component, apiserver first, restore each node's static pod from
 *     what the DaemonSet runs now (or the original with --to-original), checkpoint off only after the static
 *     apiserver serves, DaemonSet deleted only once every node serves static, then the component's node gate
 *     label removed from each node, backups removed only where the component runs static from them; refuse a
 *     downgrade without --force;
 *  3. show it; confirmation (or --yes);
 *  4. access review of the per-node objects, then the Lease: nothing is written before this point;
 *  5. under the Lease, read and plan again; stop if that differs from what was confirmed;
 *  6. run the steps (one runner: journal, resume re-checks, dry run, the fault hook, the Lease guard);
 *  7. release the Lease (underLock does, whatever happened).
 */
import { PreconditionError } from '../core/errors.ts';
import { unfinished, type Journal } from '../core/journal.ts';
import { buildRollbackPlan, type RollbackOptions, type RollbackPlan } from '../core/rollback-plan.ts';
import type { Snapshot } from '../core/snapshot.ts';
import { assertUnchanged, confirmOrRefuse, nothingToDo, preflightAccess, runOperation, underLock, type OpArgs, type OpEnv } from './operation.ts';
import { rollbackSteps } from './rollback-steps.ts';

export type RollbackArgs = OpArgs & Omit<RollbackOptions, 'components'>;

export async function runRollback(env: OpEnv, a: RollbackArgs): Promise<{ plan: RollbackPlan; journal: Journal | null }> {
  const { session, emit, clock } = env;
  const plan = (s: Snapshot) => buildRollbackPlan(s, { components: a.components, toOriginal: a.toOriginal, exact: a.exact, force: a.force }, clock.now());
  // 1.
  await preflightAccess(env, 'rollback', a.dryRun);
  const snapshot = await session.readSnapshot();
  // 2.
  const confirmed = plan(snapshot);
  const blocked = confirmed.components.filter((c) => c.action === 'blocked');
  if (blocked.length > 0) throw new PreconditionError(`cannot roll back ${blocked.map((c) => `${c.component}: ${c.reason}`).join('; ')}`);
  // 3.
  for (const w of confirmed.warnings) emit({ type: 'warn', tag: '[rollback]', message: w.message });
  if (unfinished(snapshot.journal)) emit({ type: 'info', tag: '[rollback]', message: `the journal shows an unfinished ${snapshot.journal.operation} (run ${snapshot.journal.runId}, ${snapshot.journal.done.length} step(s) done); rolling back from there` });
  // Nothing left to do, but a killed run's journal says it did not finish: record this rollback as finished (in
  // place of that run, whichever verb it was), so that status no longer reports a run under way.
  if (nothingToDo(confirmed.steps.length, snapshot.journal, a.dryRun)) return { plan: confirmed, journal: null };
  if (confirmed.steps.length > 0) {
    confirmed.steps.forEach((s, i) => emit({ type: 'info', tag: s.component ? `[rollback/${s.component}]` : '[rollback]', message: `${i + 1}. ${s.description}` }));
    await confirmOrRefuse(a.confirm, `Roll back ${a.components.join(', ')} to static pods on context "${session.context}" in ${confirmed.steps.length} steps?`, 'rollback');
  } else {
    emit({ type: 'info', tag: '[rollback]', message: `nothing left to roll back; recording the unfinished ${snapshot.journal!.operation} run ${snapshot.journal!.runId} as superseded by this rollback` });
  }
  if (a.dryRun === 'client') return { plan: confirmed, journal: await runOperation(env, undefined as never, 'rollback', rollbackSteps(confirmed.steps), null, a, async () => undefined) };
  // 4.
  return underLock(env, a, 'rollback', snapshot.nodes.map((n) => n.name), async (ctx, guard) => {
    // 5.
    const now = await session.readSnapshot();
    const again = plan(now);
    assertUnchanged('rollback', confirmed, again);
    // 6.
    const journal = await runOperation(env, ctx, 'rollback', rollbackSteps(again.steps), now.journal, a, guard);
    return { plan: again, journal };
  });
}
