// "Nothing else is pivoting": a Lease in kube-system held for the whole run, with holder and start time, renewed
// while the run lives. A holder that stopped renewing (killed) loses it after its duration, or at once when the
// holder was a process of this same machine that no longer exists.
import { hostname, userInfo } from 'node:os';
import { PreconditionError } from '../core/errors.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import type { Clock } from '../ports/clock.ts';
import { paths, type KubeApi, type Obj } from '../ports/kube.ts';

export const LOCK_NAME = 'kubectl-selfhost';
const DURATION_S = 60;

type Lease = Obj & { spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string } };

export interface Lock {
  release(): Promise<void>;
}

export function holderIdentity(pid = process.pid): string {
  return `${userInfo().username}@${hostname()}/${pid}`;
}

function holderIsDeadLocalProcess(holder: string): boolean {
  const m = /^.*@(.+)\/(\d+)$/.exec(holder);
  if (!m || m[1] !== hostname()) return false;
  try {
    process.kill(Number(m[2]), 0);
    return false;
  } catch {
    return true;
  }
}

export async function acquireLock(kube: KubeApi, clock: Clock, operation: string): Promise<Lock> {
  const me = holderIdentity();
  const now = clock.now();
  const lease: Lease = {
    apiVersion: 'coordination.k8s.io/v1', kind: 'Lease',
    metadata: { name: LOCK_NAME, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE }, annotations: { 'kubectl-selfhost.dev/operation': operation } },
    spec: { holderIdentity: me, leaseDurationSeconds: DURATION_S, acquireTime: micro(now), renewTime: micro(now) },
  };
  const existing = await kube.get<Lease>(paths.lease(NAMESPACE, LOCK_NAME));
  if (existing) {
    const holder = existing.spec.holderIdentity ?? '';
    const renewed = Date.parse(existing.spec.renewTime ?? existing.spec.acquireTime ?? '') || 0;
    const expired = now.getTime() - renewed > (existing.spec.leaseDurationSeconds ?? DURATION_S) * 1000;
    if (holder && holder !== me && !expired && !holderIsDeadLocalProcess(holder)) {
      throw new PreconditionError(`another run holds Lease kube-system/${LOCK_NAME} (holder ${holder} since ${existing.spec.acquireTime}); wait for it to finish, or delete the Lease if that run is gone`);
    }
    await kube.replace(paths.lease(NAMESPACE, LOCK_NAME), { ...lease, metadata: { ...lease.metadata, resourceVersion: existing.metadata['resourceVersion'] } });
  } else {
    await kube.create(paths.leases(NAMESPACE), lease);
  }
  let stopped = false;
  const renew = async () => {
    const cur = await kube.get<Lease>(paths.lease(NAMESPACE, LOCK_NAME));
    if (cur && cur.spec.holderIdentity === me) await kube.replace(paths.lease(NAMESPACE, LOCK_NAME), { ...cur, spec: { ...cur.spec, renewTime: micro(clock.now()) } });
  };
  // Renewal failures are expected while the apiserver hands over; the next tick retries.
  const timer = setInterval(() => void (stopped ? undefined : renew().catch(() => undefined)), (DURATION_S / 4) * 1000);
  timer.unref();
  return {
    async release() {
      stopped = true;
      clearInterval(timer);
      const cur = await kube.get<Lease>(paths.lease(NAMESPACE, LOCK_NAME)).catch(() => null);
      if (cur?.spec.holderIdentity === me) await kube.delete(paths.lease(NAMESPACE, LOCK_NAME)).catch(() => false);
    },
  };
}

function micro(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
