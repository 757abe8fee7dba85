// The endpoint guard's two steps, pivot's and rollback's (src/core/endpoint-guard.ts says why):
//  guard:   1. create (or replace) the ValidatingAdmissionPolicy and its binding; no such API: go on without it;
//           2. a dry-run create of the check ConfigMap, until the answering apiserver refuses it (in force there);
//              not in force within GUARD_IN_FORCE_MS: removed again, the hand-over goes on without it.
//  unguard: 1. none in place: nothing to do;
//           2. wait GUARD_HOLD_MS (the apiserver that stays renews the address's lease within one interval);
//           3. delete the binding, then the policy.
import { GUARD_CHECK, GUARD_HOLD_MS, GUARD_MARK, GUARD_NAME, guardObjects, guardPaths } from '../core/endpoint-guard.ts';
import { MANAGED_BY_KEY, MANAGED_BY_VALUE, NAMESPACE } from '../core/labels.ts';
import { ApiError, createOrReplace, paths, type KubeApi, type Obj } from '../ports/kube.ts';
import { guardExists } from '../sources/cluster.ts';
import type { OpContext } from './context.ts';

/** How long the guard may take to be in force in the apiserver that answers (its policy informer). */
export const GUARD_IN_FORCE_MS = 20_000;

type Ctx = Pick<OpContext, 'kube' | 'clock'>;

/** check false (--dry-run=server): the objects sent with dryRun=All only, which validates their expressions. */
export async function guardEndpoints(ctx: Ctx, addresses: readonly string[], check = true): Promise<string | void> {
  if (addresses.length === 0) return 'not guarded: no apiserver address is known (the nodes report no InternalIP)';
  const { policy, binding } = guardObjects(addresses);
  try {
    await createOrReplace(ctx.kube, guardPaths.policies(), guardPaths.policy(GUARD_NAME), policy as unknown as Obj);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return 'not guarded: this cluster serves no ValidatingAdmissionPolicy (admissionregistration.k8s.io/v1, Kubernetes 1.30+); clients inside the cluster may lose the kubernetes Service for up to 10 s per hand-over';
    throw err;
  }
  await createOrReplace(ctx.kube, guardPaths.bindings(), guardPaths.binding(GUARD_NAME), binding as unknown as Obj);
  if (!check) return;
  const probe = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: GUARD_CHECK, namespace: NAMESPACE, labels: { [MANAGED_BY_KEY]: MANAGED_BY_VALUE } } };
  const until = ctx.clock.now().getTime() + GUARD_IN_FORCE_MS;
  for (;;) {
    const refused = await ctx.kube.create(paths.configMaps(NAMESPACE), probe, { dryRun: true }).then(
      () => false,
      (err: unknown) => {
        if (err instanceof ApiError && err.message.includes(GUARD_MARK)) return true;
        throw err;
      },
    );
    if (refused) return;
    if (ctx.clock.now().getTime() >= until) break;
    await ctx.clock.sleep(500);
  }
  await removeGuard(ctx.kube);
  return `not guarded: the policy was not in force after ${GUARD_IN_FORCE_MS / 1000} s (is the ValidatingAdmissionPolicy admission plugin disabled?); removed again`;
}

/**
 * The runner's view of a planned guard step, pivot's or rollback's: the guard is cheap to put in place again and
 * must be in force before any hand-over, so it always runs (a resumed run too).
 */
export function guardStepRuns(s: { on: boolean; addresses: readonly string[] }): { alwaysRun: true; run: (ctx: Ctx) => Promise<string | void>; serverDryRun: (ctx: Ctx) => Promise<string | void> } {
  return {
    alwaysRun: true,
    run: (ctx) => (s.on ? guardEndpoints(ctx, s.addresses) : unguardEndpoints(ctx)),
    serverDryRun: (ctx) => (s.on ? guardEndpoints(ctx, s.addresses, false) : unguardEndpoints(ctx, false)),
  };
}

/** hold false (--dry-run=server): no wait before the deletes. */
export async function unguardEndpoints(ctx: Ctx, hold = true): Promise<string | void> {
  if (!(await guardExists(ctx.kube))) return 'no endpoint guard was in place';
  if (hold) await ctx.clock.sleep(GUARD_HOLD_MS);
  await removeGuard(ctx.kube);
}

async function removeGuard(kube: KubeApi): Promise<void> {
  await kube.delete(guardPaths.binding(GUARD_NAME));
  await kube.delete(guardPaths.policy(GUARD_NAME));
}
