// Steps as data, run by one small runner (after kubeadm's workflow Runner). The runner, not the steps, decides:
//  - what a dry run skips: with --dry-run=client every step that writes is only shown; with --dry-run=server the
//    steps that write through the API run (the operation hands them an API that sends dryRun=All), those that
//    write on a node are only shown;
//  - what a resumed run skips: a step the journal records as done is skipped only when its outcome still holds
//    (verify), and never when it re-checks a desired state (alwaysRun);
//  - where the fault hook fires (before and after each step, for the fault-injection tests);
//  - that no step that writes starts once the run's Lease can no longer be proven held (guard).
// It wraps failures with the step's name and records each completed step in the journal before the next starts,
// so a run killed at any point can be resumed by running the same command again.
import { wrap } from './errors.ts';
import type { Emit } from './events.ts';
import type { FaultHook } from './fault.ts';
import { finish, markDone, type Journal } from './journal.ts';

export type DryRun = 'none' | 'client' | 'server';
/** What a step changes: nothing, API objects only, or files on a node (through node agents). */
export type Writes = 'none' | 'api' | 'node';

export interface Step<C> {
  id: string;
  /** `[pivot/kube-apiserver]`-style tag for the renderer. */
  tag: string;
  description: string;
  writes: Writes;
  /** Run even when the journal records it as done: its desired state may have changed since (e.g. a DaemonSet). */
  alwaysRun?: boolean;
  /** On resume: whether the outcome the journal records still holds; when it does not, the step runs again. */
  verify?(ctx: C): Promise<boolean>;
  /** Does the work; resolves to a reason when there was nothing to do (already done by an earlier run). */
  run(ctx: C): Promise<string | void>;
  /**
   * With --dry-run=server, run in place of `run` by a step that writes through the API but whose run checks or
   * waits for what the node steps a server dry run skips would have done (e.g. static pods restored).
   */
  serverDryRun?(ctx: C): Promise<string | void>;
}

export interface JournalStore {
  save(j: Journal): Promise<void>;
}

export interface RunnerCtx {
  emit: Emit;
  journal: JournalStore;
  now: () => Date;
  dryRun?: DryRun;
  fault?: FaultHook;
  /** Rejects when the run may no longer write (its Lease lost or expired). */
  guard?: () => Promise<unknown>;
}

function dryRunSkip(dryRun: DryRun, writes: Writes): string | null {
  if (dryRun === 'client' && writes !== 'none') return 'dry run (client): not run';
  if (dryRun === 'server' && writes === 'node') return 'dry run (server): node files left as they are';
  return null;
}

export async function runSteps<C>(steps: readonly Step<C>[], ctx: C, r: RunnerCtx, journal: Journal): Promise<Journal> {
  const dryRun = r.dryRun ?? 'none';
  const record = dryRun === 'none';
  let j = journal;
  for (const [i, step] of steps.entries()) {
    const pos = { index: i + 1, total: steps.length };
    const skip = dryRunSkip(dryRun, step.writes);
    if (skip) {
      r.emit({ type: 'step-done', tag: step.tag, description: step.description, ...pos, skipped: skip });
      continue;
    }
    try {
      if (j.done.includes(step.id) && step.alwaysRun !== true) {
        if (!step.verify || (await step.verify(ctx))) {
          r.emit({ type: 'step-done', tag: step.tag, description: step.description, ...pos, skipped: `done by run ${j.runId} (re-checked)` });
          continue;
        }
        r.emit({ type: 'info', tag: step.tag, message: `recorded as done, but its outcome no longer holds (the cluster changed since); running it again` });
      }
      r.fault?.(step.id, 'before');
      if (step.writes !== 'none') await r.guard?.();
      r.emit({ type: 'step-start', tag: step.tag, description: step.description, ...pos });
      const skipped = await (dryRun === 'server' && step.serverDryRun ? step.serverDryRun(ctx) : step.run(ctx));
      if (record) {
        j = markDone(j, step.id, r.now());
        await r.journal.save(j);
      }
      r.emit({ type: 'step-done', tag: step.tag, description: step.description, ...pos, ...(skipped ? { skipped } : {}) });
      r.fault?.(step.id, 'after');
    } catch (err) {
      const failure = wrap(`${step.tag} ${step.description}`, err);
      r.emit({ type: 'step-failed', tag: step.tag, description: step.description, error: failure.message });
      if (record) {
        j = finish(j, 'failed', r.now(), failure.message);
        await r.journal.save(j).catch(() => undefined);
      }
      throw failure;
    }
  }
  j = finish(j, 'completed', r.now());
  if (record) await r.journal.save(j);
  return j;
}
