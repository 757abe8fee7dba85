// A kubeadm cluster made of the fakes at the ports, for executor tests: N control-plane nodes (cp-1 at
// 10.213.0.2, cp-2 at 10.213.0.3, ...) running the real kubeadm v1.34.4 manifests (test/fixtures/kubeadm, made
// by kubeadm for cp-1 at 10.213.0.2; other nodes get their own address in them), the fake kubelet and DaemonSet
// controller, the probe, a session that reads it as the real one does (src/sources/cluster.ts), and an API server
// that answers SelfSubjectAccessReviews (allowed unless `deny` says otherwise).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PIVOT_ORDER } from '../../../src/core/components.ts';
import type { ProgressEvent } from '../../../src/core/events.ts';
import type { DaemonSet } from '../../../src/core/k8s-types.ts';
import { CONTROL_PLANE_ROLE, NAMESPACE } from '../../../src/core/labels.ts';
import type { OpArgs, OpEnv } from '../../../src/pivot/operation.ts';
import type { RollbackArgs } from '../../../src/pivot/rollback.ts';
import { paths, type Obj } from '../../../src/ports/kube.ts';
import type { Session } from '../../../src/session.ts';
import { readCluster } from '../../../src/sources/cluster.ts';
import { FIXTURES } from '../helpers.ts';
import { fakeClock } from './clock.ts';
import { fakeKube } from './kube.ts';
import { fakeKubelet, type FakeNode } from './kubelet.ts';
import { fakeFiles } from './nodefs.ts';
import { fakeProbe } from './probe.ts';

export const MANIFESTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
const FIXTURE_ADDRESS = '10.213.0.2';
export const fixture = (name: string, address = FIXTURE_ADDRESS) =>
  readFileSync(join(FIXTURES, 'kubeadm', 'v1.34.4', `${name}.yaml`), 'utf8').replaceAll(FIXTURE_ADDRESS, address);

export function fakeCluster(nodeCount = 1) {
  const clock = fakeClock();
  const kube = fakeKube();
  const files = fakeFiles(kube.calls);
  const nodes: FakeNode[] = Array.from({ length: nodeCount }, (_, i) => ({ name: `cp-${i + 1}`, address: `10.213.0.${i + 2}` }));
  const kubelet = fakeKubelet(kube, files, clock, nodes);
  const probe = fakeProbe(kubelet, kube.calls);
  const events: ProgressEvent[] = [];
  const w = { clock, kube, files, kubelet, probe, events, nodes, deny: (_verb: string, _resource: string) => false };

  kube.put('/api/v1/namespaces', { metadata: { name: NAMESPACE, uid: 'kube-system-uid' } });
  for (const n of nodes) {
    kube.put(paths.nodes(), { metadata: { name: n.name, labels: { [CONTROL_PLANE_ROLE]: '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: n.address }] } } as Obj);
    for (const m of MANIFESTS) files.manifests.set(`${n.name}/${m}.yaml`, fixture(m, n.address));
    kubelet.sync(n.name);
  }
  const create = kube.create;
  kube.create = async (path, body, o) => {
    if (path !== paths.selfSubjectAccessReviews()) return create(path, body, o);
    const spec = (body as unknown as { spec: { resourceAttributes?: { verb: string; resource: string }; nonResourceAttributes?: { verb: string; path: string } } }).spec;
    const a = spec.resourceAttributes ?? { verb: spec.nonResourceAttributes!.verb, resource: spec.nonResourceAttributes!.path };
    kube.calls.push(`CREATE ${path}`);
    return { ...body, status: { allowed: !w.deny(a.verb, a.resource) } };
  };

  const session: Session = { kube, probe, context: 'fake', server: `https://${nodes[0]!.address}:6443`, readSnapshot: () => readCluster(kube, { context: 'fake', server: session.server }) };
  const env: OpEnv = { session, emit: (e) => void events.push(e), clock };
  return { ...w, session, env };
}

export type FakeCluster = ReturnType<typeof fakeCluster>;

export function opArgs(o: Partial<OpArgs> = {}): OpArgs {
  return { components: [...PIVOT_ORDER], dryRun: 'none', timeoutMs: 30_000, agentImage: 'busybox:test', confirm: { yes: true, interactive: false, ask: async () => true }, ...o };
}

export function rollbackArgs(o: Partial<RollbackArgs> = {}): RollbackArgs {
  return { ...opArgs(o), toOriginal: false, exact: false, force: false, ...o };
}

const WRITE = /^(CREATE|REPLACE|PATCH|DELETE) |^node \S+ (write|remove|backup)/;

/** The calls that change something: API writes and node-file writes (an access review is a question, not a write). */
export const writesIn = (calls: readonly string[]) => calls.filter((c) => WRITE.test(c) && !c.includes('selfsubjectaccessreviews'));

/** Every moment, after a change on a node, at which no apiserver process listened there: the API was down on it. */
export function apiGaps(w: FakeCluster): string[] {
  const gaps: string[] = [];
  const check = (why: string) => {
    for (const n of w.nodes) if (!w.kubelet.procs.some((p) => p.node === n.name && p.apiserver && p.listening)) gaps.push(`${n.name}: after ${why}`);
  };
  const onChange = w.files.onChange!;
  w.files.onChange = (node) => { onChange(node); check(`a change in ${node}'s manifest directory`); };
  const onWrite = w.kube.onWrite!;
  w.kube.onWrite = async (verb, path) => { await onWrite(verb, path); check(`${verb} ${path}`); };
  return gaps;
}

/** A fault hook that ends the run at a point as a kill would (the runner records the failure; nothing runs after). */
export const killAt = (point: string) => (p: string, when: 'before' | 'after') => {
  if (`${p}:${when}` === point) throw new Error(`killed at ${point}`);
};

/** An edit made through the API (kubectl edit): the DaemonSet controller rolls its pods. */
export async function editDaemonSet(w: FakeCluster, name: string, edit: (ds: DaemonSet) => void): Promise<void> {
  const path = paths.daemonSet(NAMESPACE, name);
  const ds = structuredClone(w.kube.objects.get(path)) as unknown as DaemonSet;
  edit(ds);
  await w.kube.replace(path, ds as unknown as Obj);
}

/**
 * `kubeadm join --control-plane` after a pivot: a Node with the control-plane role label only (none of this
 * tool's), kubeadm's fresh static manifests (no --permit-port-sharing), the kubelet running them. The Node is
 * created through the API, so the fake DaemonSet controller sees it as the real one would.
 */
export async function joinNode(w: FakeCluster, name: string, address: string): Promise<void> {
  w.nodes.push({ name, address });
  for (const m of MANIFESTS) w.files.manifests.set(`${name}/${m}.yaml`, fixture(m, address));
  w.kubelet.sync(name);
  await w.kube.create(paths.nodes(), { metadata: { name, labels: { [CONTROL_PLANE_ROLE]: '' } }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address }] } } as Obj);
}
