// Steps as data, run by one small runner (after kubeadm's workflow Runner). The runner decides up front which
// steps run (those the journal has not recorded as done, and those that re-check a desired state), runs them in order, wraps failures with the step's
// name, and records each completed step in the journal before starting the next, so a run killed at any point
// can be resumed by running the same command again.
import { wrap } from './errors.ts';
import type { Emit } from './events.ts';
import { finish, markDone, type Journal } from './journal.ts';

export interface Step<C> {
  id: string;
  /** `[pivot/kube-apiserver]`-style tag for the renderer. */
  tag: string;
  description: string;
  /** Run even when the journal records it as done: its desired state may have changed since (e.g. a DaemonSet). */
  alwaysRun?: boolean;
  /** Does the work; resolves to a reason when there was nothing to do (already done by an earlier run). */
  run(ctx: C): Promise<string | void>;
}

export interface JournalStore {
  save(j: Journal): Promise<void>;
}

export interface RunnerCtx {
  emit: Emit;
  journal: JournalStore;
  now: () => Date;
}

export async function runSteps<C>(steps: readonly Step<C>[], ctx: C, r: RunnerCtx, journal: Journal): Promise<Journal> {
  const todo = steps.filter((s) => s.alwaysRun === true || !journal.done.includes(s.id));
  let j = journal;
  for (const [i, step] of todo.entries()) {
    const pos = { index: i + 1, total: todo.length };
    r.emit({ type: 'step-start', tag: step.tag, description: step.description, ...pos });
    try {
      const skipped = await step.run(ctx);
      j = markDone(j, step.id, r.now());
      await r.journal.save(j);
      r.emit({ type: 'step-done', tag: step.tag, description: step.description, ...pos, ...(skipped ? { skipped } : {}) });
    } catch (err) {
      const failure = wrap(`${step.tag} ${step.description}`, err);
      r.emit({ type: 'step-failed', tag: step.tag, description: step.description, error: failure.message });
      j = finish(j, 'failed', r.now(), failure.message);
      await r.journal.save(j).catch(() => undefined);
      throw failure;
    }
  }
  j = finish(j, 'completed', r.now());
  await r.journal.save(j);
  return j;
}
