/**
 * rollback: back to static pods, from any state. The algorithm, in the order the code below runs it:
 *  1. access review of everything rollback does, then read the cluster (an unreadable journal is reported and set
 *     aside: rollback reads the cluster itself);
 *     a node not Ready that the plan has steps on gets --timeout to be Ready again, then rollback refuses, naming it
 *     and the two ways on (start it; or remove it from the cluster, and rollback finishes the others and forgets it):
 *     its steps need a node agent there, and a rollback stopped half-way across the nodes helps no one;
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
import { waitFor } from '../core/wait.ts';
import { assertUnchanged, confirmOrRefuse, nothingToDo, preflightAccess, runOperation, underLock, type OpArgs, type OpEnv } from './operation.ts';
import { rollbackSteps } from './rollback-steps.ts';

/** The nodes not Ready that the plan has steps on (each such step needs a node agent, or that node's pods). */
function down(s: Snapshot, p: RollbackPlan): string[] {
  return s.nodes.filter((n) => n.ready === false && p.steps.some((step) => step.node === n.name)).map((n) => n.name);
}

export function nodesDown(names: readonly string[]): string {
  const list = names.join(', ');
  const one = names.length === 1;
  return `control-plane node${one ? '' : 's'} ${list} ${one ? 'is' : 'are'} not Ready, and rollback needs a node agent on each node it restores; nothing was changed: start ${one ? 'it' : 'them'} and run "kubectl selfhost rollback" again, or, if ${one ? 'it is' : 'they are'} gone for good, remove ${one ? 'it' : 'them'} from the cluster ("kubeadm reset" there, then "kubectl delete node ${names[0]}") and run rollback again: it rolls back the other nodes and forgets ${list}`;
}

export type RollbackArgs = OpArgs & Omit<RollbackOptions, 'components'>;

export async function runRollback(env: OpEnv, a: RollbackArgs): Promise<{ plan: RollbackPlan; journal: Journal | null }> {
  const { session, emit, clock } = env;
  const plan = (s: Snapshot) => buildRollbackPlan(s, { components: a.components, toOriginal: a.toOriginal, exact: a.exact, force: a.force, helperArchs: env.nodeHelper?.archs ?? [] }, clock.now());
  // 1.
  await preflightAccess(env, 'rollback', a.dryRun);
  let snapshot = await session.readSnapshot();
  if (down(snapshot, plan(snapshot)).length > 0) {
    await waitFor({ clock, emit, timeoutMs: a.timeoutMs }, '[rollback]', 'every node rollback acts on to be Ready', async () => {
      snapshot = await session.readSnapshot();
      const names = down(snapshot, plan(snapshot));
      return { done: names.length === 0, seen: names.length === 0 ? 'ready' : `${names.join(', ')} not Ready` };
    }).catch((err: unknown) => {
      const names = down(snapshot, plan(snapshot));
      if (names.length === 0) throw err;
      throw new PreconditionError(nodesDown(names));
    });
  }
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
