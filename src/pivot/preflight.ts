// Preflight, before any change: the user may do what the operation needs (SelfSubjectAccessReview), no other run
// is in the way, and the static control plane is healthy where it is to be handed over.
import type { Component } from '../core/components.ts';
import { PreconditionError } from '../core/errors.ts';
import { NAMESPACE } from '../core/labels.ts';
import { findStatic, modeOf } from '../core/plan.ts';
import type { Snapshot } from '../core/snapshot.ts';
import type { Clock } from '../ports/clock.ts';
import { paths, type KubeApi } from '../ports/kube.ts';

export interface Access {
  verb: string;
  resource: string;
  group?: string;
  subresource?: string;
  namespace?: string;
}

export const NEEDED_ACCESS: Access[] = [
  ...['get', 'list', 'create', 'update', 'delete'].map((verb) => ({ verb, resource: 'daemonsets', group: 'apps', namespace: NAMESPACE })),
  ...['get', 'list', 'create', 'delete'].map((verb) => ({ verb, resource: 'pods', namespace: NAMESPACE })),
  { verb: 'get', resource: 'pods', subresource: 'log', namespace: NAMESPACE },
  ...['get', 'create', 'update', 'delete'].map((verb) => ({ verb, resource: 'configmaps', namespace: NAMESPACE })),
  ...['get', 'create', 'update', 'delete'].map((verb) => ({ verb, resource: 'leases', group: 'coordination.k8s.io', namespace: NAMESPACE })),
  { verb: 'list', resource: 'nodes' },
  { verb: 'get', resource: 'nodes', subresource: 'proxy' },
  { verb: 'list', resource: 'events', namespace: NAMESPACE },
];

/**
 * Pauses before asking again about what was denied. An apiserver that has just started (the second one on the port
 * while a killed run's hand-over is resumed) says "not allowed" until its RBAC caches have synced, so a denial
 * counts only when it holds through these re-asks, each on a new connection.
 */
export const ACCESS_RECHECKS_MS = [1000, 2000, 4000];

export async function checkAccess(kube: KubeApi, clock: Clock, needed: Access[] = NEEDED_ACCESS, rechecksMs: readonly number[] = ACCESS_RECHECKS_MS): Promise<void> {
  let denied = needed;
  for (let i = 0; ; i++) {
    denied = (await Promise.all(denied.map(async (a) => ((await allowed(kube, a)) ? null : a)))).filter((a): a is Access => a !== null);
    if (denied.length === 0) return;
    if (i >= rechecksMs.length) break;
    await clock.sleep(rechecksMs[i]!);
  }
  const names = denied.map((a) => `${a.verb} ${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.group ? `.${a.group}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`);
  throw new PreconditionError(`your user may not ${names.sort().join(', ')}; use a cluster-admin context (kubeadm's admin.conf) or grant these`);
}

async function allowed(kube: KubeApi, a: Access): Promise<boolean> {
  const review = await kube.create(paths.selfSubjectAccessReviews(), {
    apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', metadata: {},
    spec: { resourceAttributes: { verb: a.verb, resource: a.resource, group: a.group ?? '', subresource: a.subresource ?? '', namespace: a.namespace ?? '' } },
  });
  return (review as { status?: { allowed?: boolean } }).status?.allowed === true;
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

/** What is not ready yet (a node, a static pod), as the error to give if it stays so; null when all is ready. */
export function notReady(s: Snapshot, components: readonly Component[]): string | null {
  for (const n of s.nodes) {
    if (n.ready === false) return `control-plane node ${n.name} is not Ready; fix it before pivoting ("kubectl describe node ${n.name}")`;
    for (const c of components) {
      const st = findStatic(n, c);
      if (modeOf(n, c) === 'static' && st && st.ready === false) {
        return `the static ${c} on ${n.name} is not ready; fix it before pivoting ("kubectl -n kube-system describe pod ${c}-${n.name}")`;
      }
    }
  }
  return null;
}
