// "Nothing else is pivoting": a Lease in kube-system held for the whole run, taken before the run's first write of
// any kind (agent pods included) and renewed while the run lives.
//  - A holder is alive while the Lease, as the API server holds it, is within its duration of its last renewal.
//    The one shortcut: a holder on this same machine whose process is gone (ESRCH) is dead at once; a process we
//    may not signal (EPERM: another Unix user) is alive.
//  - Taking and renewing go through resourceVersion, so of two runs that race, one gets a conflict and stops,
//    naming the holder.
//  - The run may write only while it can prove it holds the Lease: `assertHeld` reads the Lease before each write
//    and throws once another holder took it or it was deleted, or once the last successful renewal is older than
//    the duration less a margin. The API port is fenced with it (src/pivot/fence.ts): each write carries a
//    deadline, the Lease's expiry as last renewed less the clock drift allowed, after which no attempt of it is
//    sent and one still unanswered is abandoned, so a run cut off from the API sends no write after its Lease may
//    have passed on.
import { readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { PreconditionError, SelfhostError } from '../core/errors.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { Clock } from '../ports/clock.ts';
import { ApiError, paths, type KubeApi, type Obj } from '../ports/kube.ts';
import type { FaultHook } from '../core/fault.ts';

export const LOCK_NAME = 'kubectl-selfhost';
export const LEASE_DURATION_S = 60;
const RENEW_EVERY_MS = 10_000;
/** A renewal older than duration - margin no longer proves the Lease held: clock drift, and a write that starts
 * just before may be resent for up to 16 s (src/ports/retry.ts) and must still land inside the duration. */
const SAFETY_MARGIN_MS = 20_000;
/** A write must reach the server this long before the Lease, as last renewed, expires: the clocks of two
 * operators' machines may differ by this much (each judges the other's renewTime by its own clock). */
const CLOCK_DRIFT_MS = 5_000;

type Lease = Obj & { spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string } };

export interface Lock {
  /**
   * Resolves when the Lease is provably still ours: renewed recently enough, or renewed right now (after an API
   * outage longer than the margin, such as the port-sharing restart of a single apiserver); else throws a
   * LockLostError. It resolves to the deadline of a write sent now (epoch ms): the Lease's expiry as last renewed,
   * less the clock drift allowed.
   */
  assertHeld(): Promise<number>;
  release(): Promise<void>;
}

export class LockLostError extends SelfhostError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('failed', message, options);
  }
}

export function holderIdentity(pid = process.pid): string {
  return `${userInfo().username}@${hostname()}/${pid}`;
}

/** The state letter of a process in /proc/<pid>/stat (R, S, D, T, Z...), or null where it cannot be read. */
function procState(pid: number): string | null {
  try {
    return /^\d+ \(.*\) (\S)/s.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1] ?? null;
  } catch {
    return null;
  }
}

/**
 * Liveness signal of a same-host holder: 'dead' only when its process provably does not exist, or has exited and
 * waits to be reaped (a zombie, which a signal still reaches but which can write nothing).
 */
export function localProcess(holder: string, signal: (pid: number) => void = (pid) => process.kill(pid, 0), state: (pid: number) => string | null = procState): 'dead' | 'alive' | 'unknown' {
  const m = /^.*@(.+)\/(\d+)$/.exec(holder);
  if (!m || m[1] !== hostname()) return 'unknown';
  const pid = Number(m[2]);
  try {
    signal(pid);
  } catch (err) {
    return (err as { code?: string }).code === 'ESRCH' ? 'dead' : 'alive';
  }
  return state(pid) === 'Z' ? 'dead' : 'alive';
}

export function leaseAlive(l: Lease, now: Date): boolean {
  const renewed = Date.parse(l.spec.renewTime ?? l.spec.acquireTime ?? '') || 0;
  return now.getTime() - renewed <= (l.spec.leaseDurationSeconds ?? LEASE_DURATION_S) * 1000;
}

const heldBy = (l: Lease | null) => (l ? `holder ${l.spec.holderIdentity ?? 'unknown'} since ${l.spec.acquireTime ?? '?'}, ${String((l.metadata['annotations'] as Record<string, string> | undefined)?.['kubectl-selfhost.dev/operation'] ?? 'a run')}` : 'another run');

function heldError(l: Lease | null): PreconditionError {
  return new PreconditionError(`another run holds Lease kube-system/${LOCK_NAME} (${heldBy(l)}); wait for it to finish, or, if that run is gone, wait ${LEASE_DURATION_S}s for the Lease to expire`);
}

export async function acquireLock(kube: KubeApi, clock: Clock, operation: string, signal?: (pid: number) => void, fault?: FaultHook): Promise<Lock> {
  const me = holderIdentity();
  const path = paths.lease(NAMESPACE, LOCK_NAME);
  const at = clock.now();
  const lease: Lease = {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: LOCK_NAME, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE }, annotations: { 'kubectl-selfhost.dev/operation': operation } },
    spec: { holderIdentity: me, leaseDurationSeconds: LEASE_DURATION_S, acquireTime: micro(at), renewTime: micro(at) },
  };
  const existing = await kube.get<Lease>(path);
  try {
    if (existing) {
      const holder = existing.spec.holderIdentity ?? '';
      if (holder && holder !== me && leaseAlive(existing, at) && localProcess(holder, signal) !== 'dead') throw heldError(existing);
      await kube.replace(path, { ...lease, metadata: { ...lease.metadata, resourceVersion: existing.metadata['resourceVersion'] } });
    } else {
      await kube.create(paths.leases(NAMESPACE), lease);
    }
  } catch (err) {
    // 409: another run created or took it between our read and our write.
    if (err instanceof ApiError && err.status === 409) throw heldError(await kube.get<Lease>(path).catch(() => null));
    throw err;
  }
  let heldSince = at.getTime();
  let lost: string | null = null;
  let stopped = false;
  /** The Lease as the API server holds it now; marks the run's Lease lost when it is gone or another's. */
  const current = async (): Promise<Lease | null> => {
    const cur = await kube.get<Lease>(path);
    if (!cur || cur.spec.holderIdentity !== me) {
      lost = `Lease kube-system/${LOCK_NAME} was ${cur ? `taken by ${heldBy(cur)}` : 'deleted'} while this run held it`;
      return null;
    }
    return cur;
  };
  const renew = async () => {
    // The fault suite stops a run here (a partition during a renewal); inert unless KUBECTL_SELFHOST_FAULT is set.
    fault?.('lease/renew', 'before');
    const started = clock.now().getTime();
    const cur = await current();
    if (!cur) return;
    try {
      await kube.replace(path, { ...cur, spec: { ...cur.spec, renewTime: micro(new Date(started)) } });
      heldSince = started;
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 409)) throw err;
      // 409: the Lease changed since it was read, by another run or by this one: the timer's renewal and one on the
      // spot (assertHeld) at once, after an outage that held the timer's back in its retries, and the other one's
      // write came first. The Lease as it is now decides; still this run's, its renewal time is this run's clock.
      const now = await current();
      const renewed = Date.parse(now?.spec.renewTime ?? '');
      if (now && Number.isFinite(renewed) && renewed > heldSince) heldSince = renewed;
    }
  };
  // A failed renewal is retried at the next tick; assertHeld stops the run's writes once the last one is too old.
  const timer = setInterval(() => void (stopped || lost ? undefined : renew().catch(() => undefined)), RENEW_EVERY_MS);
  timer.unref();
  const deadline = () => heldSince + LEASE_DURATION_S * 1000 - CLOCK_DRIFT_MS;
  const lostError = () => new LockLostError(`${lost}; stopping before the next write (run "kubectl selfhost status", then resume with the same command)`);
  return {
    async assertHeld() {
      if (lost) throw lostError();
      if (clock.now().getTime() - heldSince <= LEASE_DURATION_S * 1000 - SAFETY_MARGIN_MS) {
        // Renewed recently, but the Lease may have been deleted by hand since (and then created by another run):
        // read it before each write. An unanswered read leaves the decision to the renewal's age, as before.
        await current().catch(() => undefined);
        if (lost) throw lostError();
        return deadline();
      }
      await renew().catch(() => undefined);
      if (lost) throw lostError();
      const age = clock.now().getTime() - heldSince;
      if (age > LEASE_DURATION_S * 1000 - SAFETY_MARGIN_MS) {
        throw new LockLostError(`could not renew Lease kube-system/${LOCK_NAME} for ${Math.round(age / 1000)}s (API unreachable?), so another run may hold it now; stopping before the next write (resume with the same command when the API answers)`);
      }
      return deadline();
    },
    async release() {
      stopped = true;
      clearInterval(timer);
      const cur = await kube.get<Lease>(path).catch(() => null);
      if (cur?.spec.holderIdentity === me) await kube.delete(path).catch(() => false);
    },
  };
}

function micro(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
