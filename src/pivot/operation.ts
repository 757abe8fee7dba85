// The frame pivot and rollback share, in the order it runs: confirmation; access review and the Lease before the
// first write of any kind; under the Lease, the cluster read again and compared with the plan the user confirmed;
// leftover agent pods removed; the journal resumed or started; the steps run by the runner; the Lease released
// whatever happened.
import { randomBytes } from 'node:crypto';
import type { Component } from '../core/components.ts';
import { PreconditionError, UsageError } from '../core/errors.ts';
import type { Emit } from '../core/events.ts';
import type { FaultHook } from '../core/fault.ts';
import { newJournal, unfinished, type Journal, type Operation } from '../core/journal.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import { runSteps, type DryRun, type Step } from '../core/runner.ts';
import { agentNodeFiles, agentNodeSockets, AGENT_COMPONENT, HELPER_COMPONENT } from '../ports/agent.ts';
import { nodeHelperFrom, type NodeHelper } from '../ports/node-helper.ts';
import { HELPER_ARCHS, helperConfigMapName } from '../core/port-sharing.ts';
import type { Clock } from '../ports/clock.ts';
import { paths, type KubeApi } from '../ports/kube.ts';
import type { Session } from '../session.ts';
import type { OpContext } from './context.ts';
import { fenced, serverDryRun, type WriteCheck } from './fence.ts';
import { acquireLock, LockLostError } from './lock.ts';
import { checkAccess } from './preflight.ts';
import { accessFor } from '../core/permissions.ts';
import { journalStore } from './store.ts';

export interface Confirm {
  yes: boolean;
  interactive: boolean;
  ask(question: string): Promise<boolean>;
}

export interface OpArgs {
  components: Component[];
  dryRun: DryRun;
  timeoutMs: number;
  agentImage: string;
  confirm: Confirm;
}

/** What an operation runs with besides its arguments: the session's ports, progress, time and the fault hook. */
export interface OpEnv {
  session: Session;
  emit: Emit;
  clock: Clock;
  fault?: FaultHook;
  /** The node helper this build carries (none: port sharing by restart only). */
  nodeHelper?: NodeHelper;
}

/**
 * Nothing for the verb to do and nothing to record: no steps, and no unfinished run to mark finished (a dry run
 * never records). With no steps but an unfinished run, the verb runs zero steps so that the journal says finished.
 */
export function nothingToDo(steps: number, journal: Journal | null, dryRun: DryRun): boolean {
  return steps === 0 && (!unfinished(journal) || dryRun !== 'none');
}

export async function confirmOrRefuse(c: Confirm, question: string, verb: string): Promise<void> {
  if (c.yes) return;
  if (!c.interactive) throw new UsageError(`refusing to ${verb} without confirmation: stdin is not a terminal; review "kubectl selfhost plan" and pass --yes`);
  if (!(await c.ask(question))) throw new UsageError(`${verb} cancelled; nothing was changed`);
}

/** Resumes an unfinished run of the same operation; a finished one, or the other operation's, starts anew. */
export function journalFor(existing: Journal | null, op: Operation, components: Component[], now: Date): { journal: Journal; resumed: boolean } {
  if (unfinished(existing) && existing.operation === op) {
    return { journal: { ...existing, state: 'in-progress', components: [...new Set([...existing.components, ...components])] }, resumed: true };
  }
  return { journal: newJournal(op, `${op}-${now.toISOString().replace(/[-:.TZ]/g, '').slice(0, 14)}-${randomBytes(2).toString('hex')}`, components, now), resumed: false };
}

/** What a killed run leaves in kube-system: its node agent pods, and the node helper's ConfigMap of the call under
 * way (deleted after each call otherwise). Removed under the Lease, by either verb; returns how many there were. */
export async function deleteLeftoverAgents(kube: KubeApi): Promise<number> {
  const ours = `${MANAGED_BY_KEY}=${MANAGED_BY_VALUE}`;
  const [pods, helpers] = await Promise.all([
    kube.list(paths.pods(NAMESPACE), { labelSelector: `${ours},app.kubernetes.io/component=${AGENT_COMPONENT}` }),
    kube.list(paths.configMaps(NAMESPACE), { labelSelector: `${ours},app.kubernetes.io/component=${HELPER_COMPONENT}` }),
  ]);
  const helperNames = HELPER_ARCHS.map(helperConfigMapName).filter((n) => helpers.some((c) => c.metadata.name === n));
  await Promise.all([
    ...pods.map((p) => kube.delete(paths.pod(NAMESPACE, p.metadata.name!), { gracePeriodSeconds: 0 })),
    ...helperNames.map((n) => kube.delete(paths.configMap(NAMESPACE, n))),
  ]);
  return pods.length + helperNames.length;
}

/**
 * The end of a run that wrote: an agent pod or helper ConfigMap whose deletion failed while the apiserver restarted
 * (each is deleted after its call, and an error then is not the run's) is deleted now, still under the Lease. What
 * cannot be deleted even now is a warning with the command that deletes it; the run itself is done.
 */
async function sweepAgents(kube: KubeApi, emit: OpEnv['emit'], op: Operation): Promise<void> {
  try {
    const left = await deleteLeftoverAgents(kube);
    if (left > 0) emit({ type: 'info', tag: `[${op}]`, message: `deleted ${left} node agent pod(s) and node helper ConfigMap(s) that could not be deleted when their call ended` });
  } catch (err) {
    emit({ type: 'warn', tag: `[${op}]`, message: `could not delete this run's node agent pods and node helper ConfigMaps (${String((err as Error).message).split('\n')[0]}): run "kubectl -n ${NAMESPACE} delete pods,configmaps -l '${MANAGED_BY_KEY}=${MANAGED_BY_VALUE},app.kubernetes.io/component in (${AGENT_COMPONENT},${HELPER_COMPONENT})'"` });
  }
}

/** What changed between the plan the user confirmed and the one made again under the Lease; null when nothing did. */
export function planChange<P extends { generatedAt: string; steps: Array<{ id: string }> }>(confirmed: P, now: P): string | null {
  const ids = (p: P) => p.steps.map((s) => s.id);
  const added = ids(now).filter((id) => !ids(confirmed).includes(id));
  const removed = ids(confirmed).filter((id) => !ids(now).includes(id));
  if (added.length || removed.length) return [added.length ? `now also ${added.join(', ')}` : '', removed.length ? `no longer ${removed.join(', ')}` : ''].filter(Boolean).join('; ');
  const changed = now.steps.find((s, i) => JSON.stringify(s) !== JSON.stringify(confirmed.steps[i]));
  if (changed) return `step ${changed.id} would now do something else`;
  return JSON.stringify({ ...now, generatedAt: '' }) === JSON.stringify({ ...confirmed, generatedAt: '' }) ? null : 'the state of the components changed';
}

export function assertUnchanged<P extends { generatedAt: string; steps: Array<{ id: string }> }>(verb: Operation, confirmed: P, now: P): void {
  const change = planChange(confirmed, now);
  if (change) throw new PreconditionError(`the cluster changed after the plan was confirmed (${change}); nothing was written: review "kubectl selfhost plan${verb === 'rollback' ? ' --rollback' : ''}" and run ${verb} again`);
}

/** Before anything is read: may this user do all the verb does? One line lists whatever is missing. */
export async function preflightAccess(env: OpEnv, op: Operation, dryRun: DryRun): Promise<void> {
  await checkAccess(env.session.kube, env.clock, accessFor([dryRun === 'client' ? 'plan' : op]));
}

/**
 * Everything that writes runs in here: the access review of the per-node objects, then the Lease (not for dry runs), then `body` with
 * ports whose writes are fenced by the Lease (or sent with dryRun=All), then the Lease released.
 */
export async function underLock<T>(env: OpEnv, a: Pick<OpArgs, 'dryRun' | 'timeoutMs' | 'agentImage'>, op: Operation, nodes: readonly string[], body: (ctx: OpContext, guard: WriteCheck) => Promise<T>): Promise<T> {
  const { session, clock, emit } = env;
  // The per-node objects (each node's backup ConfigMap), now that the nodes are known.
  await checkAccess(session.kube, clock, accessFor([op], nodes));
  const lock = a.dryRun === 'none' ? await acquireLock(session.kube, clock, op, undefined, env.fault) : null;
  try {
    const guard: WriteCheck = lock ? () => lock.assertHeld() : async () => undefined;
    const kube = a.dryRun === 'server' ? serverDryRun(session.kube) : fenced(session.kube, guard);
    const wait = { clock, emit, timeoutMs: a.timeoutMs, pollMs: 1000 };
    const ctx: OpContext = {
      kube, probe: session.probe, clock, emit, wait, agentImage: a.agentImage,
      files: agentNodeFiles({ kube, wait, image: a.agentImage, ...(env.fault ? { fault: env.fault } : {}) }),
      sockets: agentNodeSockets({ kube, wait, image: a.agentImage, helper: env.nodeHelper ?? nodeHelperFrom(() => null), ...(env.fault ? { fault: env.fault } : {}) }),
    };
    if (lock) {
      const left = await deleteLeftoverAgents(kube);
      if (left > 0) emit({ type: 'info', tag: `[${op}]`, message: `deleted ${left} node agent pod(s) and node helper ConfigMap(s) left by a run that was killed` });
    }
    try {
      const result = await body(ctx, guard);
      if (lock) await sweepAgents(kube, emit, op);
      return result;
    } catch (err) {
      // A run stopped by what another run did (its agent pod deleted, its objects changed under it) says so: when
      // the Lease is no longer this run's, that is the cause, and the other run's doing is not this one's error.
      if (lock && !(err instanceof LockLostError) && !((err as { cause?: unknown }).cause instanceof LockLostError)) {
        const lost = await lock.assertHeld().then(() => null, (e: unknown) => (e instanceof LockLostError ? e : null));
        if (lost) throw new LockLostError(`${lost.message}; the step under way had stopped on: ${String((err as Error).message).split('\n')[0]}`, { cause: err });
      }
      throw err;
    }
  } finally {
    await lock?.release();
  }
}

/** The journal resumed or started, and the steps run by the one runner. */
export async function runOperation(env: OpEnv, ctx: OpContext, op: Operation, steps: Step<OpContext>[], existing: Journal | null, a: Pick<OpArgs, 'components' | 'dryRun'>, guard: WriteCheck): Promise<Journal> {
  const now = () => env.clock.now();
  if (a.dryRun !== 'none') {
    return runSteps(steps, ctx, { emit: env.emit, journal: { save: async () => undefined }, now, dryRun: a.dryRun }, newJournal(op, 'dry-run', a.components, now()));
  }
  const { journal, resumed } = journalFor(existing, op, a.components, now());
  if (resumed) env.emit({ type: 'info', tag: `[${op}]`, message: `resuming run ${journal.runId} (started ${journal.startedAt}; ${journal.done.length} step(s) done; each is re-checked)` });
  if (unfinished(existing) && existing.operation !== op) {
    env.emit({ type: 'info', tag: `[${op}]`, message: `the unfinished ${existing.operation} run ${existing.runId} is superseded by this ${op}` });
  }
  return runSteps(steps, ctx, { emit: env.emit, journal: journalStore(ctx.kube, ctx.wait), now, dryRun: 'none', guard, ...(env.fault ? { fault: env.fault } : {}) }, journal);
}
