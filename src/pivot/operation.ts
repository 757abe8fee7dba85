// The shared frame of pivot and rollback: preflight, confirmation, the Lease, the journal (resume or new), leftover
// agent pods, the runner, and releasing the Lease whatever happened.
import { randomBytes } from 'node:crypto';
import type { Component } from '../core/components.ts';
import { PreconditionError, UsageError } from '../core/errors.ts';
import { newJournal, type Journal, type Operation } from '../core/journal.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import { runSteps, type Step } from '../core/runner.ts';
import { paths, type KubeApi } from '../ports/kube.ts';
import type { OpContext } from './context.ts';
import { acquireLock } from './lock.ts';
import { checkAccess } from './preflight.ts';
import { journalStore } from './store.ts';
import { AGENT_COMPONENT } from '../ports/agent.ts';

export interface Confirm {
  yes: boolean;
  interactive: boolean;
  ask(question: string): Promise<boolean>;
}

export async function confirmOrRefuse(c: Confirm, question: string, verb: string): Promise<void> {
  if (c.yes) return;
  if (!c.interactive) throw new UsageError(`refusing to ${verb} without confirmation: stdin is not a terminal; review "kubectl selfhost plan" and pass --yes`);
  if (!(await c.ask(question))) throw new UsageError(`${verb} cancelled; nothing was changed`);
}

/** Resumes an unfinished run of the same operation; a finished one, or the other operation's, starts anew. */
export function journalFor(existing: Journal | null, op: Operation, components: Component[], now: Date): { journal: Journal; resumed: boolean } {
  if (existing && existing.operation === op && existing.state !== 'completed') {
    return { journal: { ...existing, state: 'in-progress', components: [...new Set([...existing.components, ...components])] }, resumed: true };
  }
  return { journal: newJournal(op, `${op}-${now.toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`, components, now), resumed: false };
}

export async function deleteLeftoverAgents(kube: KubeApi): Promise<number> {
  const pods = await kube.list(paths.pods(NAMESPACE), { labelSelector: `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE},app.kubernetes.io/component=${AGENT_COMPONENT}` });
  await Promise.all(pods.map((p) => kube.delete(paths.pod(NAMESPACE, p.metadata.name!), { gracePeriodSeconds: 0 })));
  return pods.length;
}

export async function execute(ctx: OpContext, op: Operation, steps: Step<OpContext>[], existing: Journal | null, components: Component[]): Promise<Journal> {
  if (ctx.dryRun === 'client') {
    for (const [i, s] of steps.entries()) ctx.emit({ type: 'step-done', tag: s.tag, description: s.description, index: i + 1, total: steps.length, skipped: 'dry run (client): not run' });
    return newJournal(op, 'dry-run', components, ctx.clock.now());
  }
  await checkAccess(ctx.kube, ctx.clock);
  if (ctx.dryRun === 'server') {
    const store = { save: async () => undefined };
    return runSteps(steps, ctx, { emit: ctx.emit, journal: store, now: () => ctx.clock.now() }, newJournal(op, 'dry-run', components, ctx.clock.now()));
  }
  const lock = await acquireLock(ctx.kube, ctx.clock, op);
  try {
    const left = await deleteLeftoverAgents(ctx.kube);
    if (left > 0) ctx.emit({ type: 'info', tag: `[${op}]`, message: `deleted ${left} node agent pod(s) left by a run that was killed` });
    const { journal, resumed } = journalFor(existing, op, components, ctx.clock.now());
    if (resumed) ctx.emit({ type: 'info', tag: `[${op}]`, message: `resuming run ${journal.runId} (started ${journal.startedAt}; ${journal.done.length} step(s) done)` });
    if (existing && existing.operation !== op && existing.state !== 'completed') {
      ctx.emit({ type: 'info', tag: `[${op}]`, message: `the unfinished ${existing.operation} run ${existing.runId} is superseded by this ${op}` });
    }
    return await runSteps(steps, ctx, { emit: ctx.emit, journal: journalStore(ctx.kube, ctx.wait, false), now: () => ctx.clock.now() }, journal);
  } finally {
    await lock.release();
  }
}

/** A pivot does not start over an unfinished rollback (a rollback, in turn, may take over any unfinished pivot). */
export function assertNoForeignRun(j: Journal | null, op: Operation): void {
  if (op === 'pivot' && j && j.state !== 'completed' && j.operation === 'rollback') {
    throw new PreconditionError(`a rollback (run ${j.runId}, started ${j.startedAt}) did not finish; finish it with "kubectl selfhost rollback" first`);
  }
}
