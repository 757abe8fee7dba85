// Preflight, before any change: the user may do what the operation needs (SelfSubjectAccessReview), no other run
// is in the way, and the static control plane is healthy where it is to be handed over.
import type { Component } from '../core/components.ts';
import { checkpointOrphaned } from '../core/checkpoint.ts';
import { PreconditionError } from '../core/errors.ts';
import { accessFor, describeAccess, type Access } from '../core/permissions.ts';
import { findStatic, modeOf } from '../core/plan.ts';
import type { Snapshot } from '../core/snapshot.ts';
import type { Clock } from '../ports/clock.ts';
import { ApiError, paths, type KubeApi } from '../ports/kube.ts';

export type { Access } from '../core/permissions.ts';

/**
 * What pivot and rollback need, both: they share one preflight until each passes its own, accessFor([op]) before
 * the cluster is read and accessFor([op], nodeNames) once the nodes are known (their backup ConfigMaps).
 */
export const NEEDED_ACCESS: Access[] = accessFor(['pivot', 'rollback']);

/**
 * Pauses before asking again about what was denied. An apiserver that has just started (the second one on the port
 * while a killed run's hand-over is resumed) says "not allowed" until its RBAC caches have synced, so a denial
 * counts only when it holds through these re-asks, each on a new connection.
 */
export const ACCESS_RECHECKS_MS = [1000, 2000, 4000];

/** Asks a SelfSubjectAccessReview for every access needed; fails with one line naming all that is missing and the fix. */
export async function checkAccess(kube: KubeApi, clock: Clock, needed: Access[] = NEEDED_ACCESS, rechecksMs: readonly number[] = ACCESS_RECHECKS_MS): Promise<void> {
  let denied = needed;
  for (let i = 0; ; i++) {
    const answers = await Promise.all(denied.map((a) => allowed(kube, a)));
    // A review the user may not even ask for is itself the missing access.
    if (answers.includes('cannot ask')) throw await missing(kube, [{ verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' }]);
    denied = denied.filter((_, j) => answers[j] !== true);
    if (denied.length === 0) return;
    if (i >= rechecksMs.length) break;
    await clock.sleep(rechecksMs[i]!);
  }
  throw await missing(kube, denied);
}

async function allowed(kube: KubeApi, a: Access): Promise<boolean | 'cannot ask'> {
  const spec = 'url' in a
    ? { nonResourceAttributes: { verb: a.verb, path: a.url } }
    : { resourceAttributes: { verb: a.verb, group: a.group, resource: a.resource, subresource: a.subresource ?? '', namespace: a.namespace ?? '', name: a.name ?? '' } };
  try {
    const review = await kube.create(paths.selfSubjectAccessReviews(), { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {}, spec });
    return (review as { status?: { allowed?: boolean } }).status?.allowed === true;
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return 'cannot ask';
    throw err;
  }
}

async function missing(kube: KubeApi, denied: readonly Access[]): Promise<PreconditionError> {
  const user = await whoami(kube);
  return new PreconditionError(
    `${user ? `user "${user}"` : 'your user'} may not ${describeAccess(denied)}; as a cluster admin, grant what this tool needs with ` +
      `"kubectl selfhost rbac --bind-user ${user ? shellWord(user) : 'NAME'} | kubectl apply -f -" (the same roles as deploy/rbac.yaml), or use a cluster-admin context`,
  );
}

/** A user name as one shell word, quoted only when it needs to be (OIDC names may hold spaces). */
const shellWord = (s: string) => (/^[\w@.:+=-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** The user's name as the API server sees it (SelfSubjectReview, what "kubectl auth whoami" asks), if it says. */
async function whoami(kube: KubeApi): Promise<string | undefined> {
  try {
    const review = await kube.create(paths.selfSubjectReviews(), { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview', metadata: {} });
    const name = (review as { status?: { userInfo?: { username?: unknown } } }).status?.userInfo?.username;
    return typeof name === 'string' && name !== '' ? name : undefined;
  } catch {
    return undefined; // an older API server, or no permission: the message says NAME instead
  }
}

/** Pure checks on what was read: every selected component runs on every node, and all of it is ready. */
export function checkHealthy(s: Snapshot, components: readonly Component[]): void {
  for (const n of s.nodes) {
    for (const c of components) {
      if (modeOf(n, c) === 'missing') throw new PreconditionError(`${c} runs neither static nor self-hosted on ${n.name}; fix the control plane first ("kubectl selfhost status")`);
    }
  }
  const waiting = notReady(s, components);
  if (waiting) throw new PreconditionError(waiting);
}

/**
 * The apiserver checkpoint serves on a node while the kube-apiserver DaemonSet is gone (deleted by hand): nothing
 * will replace it by waiting, so pivot refuses at once and says what brings the static apiserver back.
 */
export function orphanedCheckpoint(s: Snapshot): string | null {
  const n = s.nodes.find((x) => checkpointOrphaned(s.daemonSets['kube-apiserver'], x));
  return n ? `the apiserver checkpoint serves on ${n.name} but the kube-apiserver DaemonSet is gone (deleted?), so waiting will not help: run "kubectl selfhost rollback --components kube-apiserver" to bring the static apiserver back, then pivot again` : null;
}

/**
 * What is not ready yet (a node, a static or self-hosted pod, a node recovering from a reboot on its checkpoint), as
 * the error to give if it stays so; null when all is ready.
 */
export function notReady(s: Snapshot, components: readonly Component[]): string | null {
  for (const n of s.nodes) {
    if (n.ready === false) return `control-plane node ${n.name} is not Ready; fix it before pivoting ("kubectl describe node ${n.name}")`;
    if (n.checkpoint?.active) return `the apiserver checkpoint serves on ${n.name} (a reboot, or its DaemonSet pod cannot start); wait until the self-hosted apiserver serves there ("kubectl selfhost status")`;
    for (const c of components) {
      const st = findStatic(n, c);
      if (modeOf(n, c) === 'static' && st && st.ready === false) {
        return `the static ${c} on ${n.name} is not ready; fix it before pivoting ("kubectl -n kube-system describe pod ${c}-${n.name}")`;
      }
      const hosted = n.daemonPods.find((p) => p.component === c);
      if (modeOf(n, c) === 'self-hosted' && hosted && !hosted.ready) {
        return `the self-hosted ${c} on ${n.name} is not ready; fix it before pivoting ("kubectl -n kube-system describe pod ${hosted.name}"), or roll it back ("kubectl selfhost rollback --components ${c}")`;
      }
    }
  }
  return null;
}
